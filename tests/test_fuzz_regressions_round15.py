"""Regression tests for the round-15 fuzzer's finds (chains of everyday ops on channels-last,
transposed, sliced and expanded inputs): each case runs the same program on PyTorch and on
minigrad, from the same numpy values, and compares values, dtypes, shapes and strides (the
strides of size-1 dims aside, see ``_meta``), and the first gradient where there is one."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(15)
A4 = RNG.standard_normal((2, 3, 4, 5))
A5 = RNG.standard_normal((2, 3, 2, 3, 4))
ROW = RNG.standard_normal((1, 3, 1, 5))


def _meta(t):
    """dtype, shape, the strides of the dims longer than 1 (the only ones PyTorch's own
    contiguity checks read) and the contiguity flags of tensor ``t``."""
    cl = t.is_contiguous(memory_format=minigrad.channels_last if isinstance(t, minigrad.Tensor)
                         else torch.channels_last) if t.ndim == 4 else None
    strides = tuple(s for s, n in zip(t.stride(), t.shape) if n > 1)
    return str(t.dtype).split(".")[-1], tuple(t.shape), strides, t.is_contiguous(), cl


def _same(mine, theirs, tol):
    assert _meta(mine) == _meta(theirs)
    np.testing.assert_allclose(mine.detach().numpy().astype(np.float64),
                               theirs.detach().numpy().astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True)


def agree_layout(program, tol=1e-6):
    """program(lib) -> tensor or list of tensors, alike in both libraries (layout included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine, theirs = program(minigrad), program(torch)
    mine = mine if isinstance(mine, (list, tuple)) else [mine]
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(mine) == len(theirs)
    for m, t in zip(mine, theirs):
        _same(m, t, tol)


def cl(L, a=A4, dtype="float32"):
    return L.tensor(a.astype(dtype)).contiguous(memory_format=L.channels_last)


def cl3d(L, a=A5, dtype="float32"):
    return L.tensor(a.astype(dtype)).contiguous(memory_format=L.channels_last_3d)


def sliced_t(L):
    """A transposed (6, 4) view with gaps: every other column of a transposed (12, 4)."""
    a = np.concatenate([A4.reshape(6, 20)[:, :4]] * 2, 1).astype(np.float32)
    return L.tensor(np.ascontiguousarray(a.T)).t()[:, ::2]


def expanded(L, dtype):
    a = ROW.astype(dtype) if dtype != "bool" else ROW > 0
    return L.tensor(a).expand(2, 3, 4, 5)


# ---- roll keeps channels-last-3d (as channels-last), other layouts go row-major ------------
@pytest.mark.parametrize("make", [cl3d, cl, lambda L: L.tensor(A5).permute(0, 2, 3, 4, 1),
                                  lambda L: L.tensor(A4)[:, ::2], sliced_t])
def test_roll_result_layout(make):
    agree_layout(lambda L: [L.roll(make(L), 1, 0), L.roll(make(L), (1, -2), (1, -1))])


# ---- a batched matmul result is row-major whatever its operands' batch layout --------------
@pytest.mark.parametrize("make", [cl3d, cl, lambda L: L.tensor(A5).permute(0, 2, 1, 3, 4)])
def test_batched_matmul_result_is_row_major(make):
    def run(L):
        x = make(L).requires_grad_()
        y = x @ x.transpose(-1, -2)
        (y * L.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)),
                      dtype=y.dtype)).sum().backward()
        return y, x.grad
    agree_layout(run, tol=1e-5)


def test_batched_half_matmul_result_is_row_major():
    agree_layout(lambda L: cl3d(L, dtype="float16") @ cl3d(L, dtype="float16").transpose(-1, -2),
                 tol=2e-2)


# ---- the blocked activations order a sliced (gapped) input's result by its strides ---------
@pytest.mark.parametrize("name", ["elu", "selu", "celu", "gelu", "silu", "softplus", "hardswish",
                                  "sigmoid", "mish", "relu"])
def test_activation_of_a_sliced_transposed_input(name):
    def run(L):
        x = sliced_t(L).requires_grad_()
        y = getattr(L.nn.functional, name)(x)
        (y * L.tensor(np.cos(np.arange(24)).reshape(6, 4), dtype=y.dtype)).sum().backward()
        return y, x.grad
    agree_layout(run, tol=1e-5)


# ---- group_norm of a transposed 2-d input is row-major -------------------------------------
@pytest.mark.parametrize("groups", [1, 2])
def test_group_norm_of_a_transposed_matrix(groups):
    def run(L):
        x = L.tensor(A4.reshape(6, 20)[:, :4].T.copy().astype(np.float32)).t()
        return L.nn.functional.group_norm(x, groups, L.ones(4), L.zeros(4))
    agree_layout(run, tol=1e-5)


# ---- a cast of an expanded input (inside an op) orders the copy by the nonzero strides -----
@pytest.mark.parametrize("dtype, op", [
    ("bool", lambda L, x: x * 2), ("bool", lambda L, x: x / 2), ("bool", lambda L, x: x + 1),
    ("bool", lambda L, x: L.where(x, x, False)), ("bool", lambda L, x: x.clamp(0, 1)),
    ("int64", lambda L, x: x / 2), ("int64", lambda L, x: x.exp()),
    ("int64", lambda L, x: x.sigmoid()), ("int64", lambda L, x: x.permute(0, 2, 3, 1) / 2),
    ("float16", lambda L, x: x.sigmoid()), ("float16", lambda L, x: L.nn.functional.gelu(x)),
    ("float16", lambda L, x: L.nn.functional.softplus(x)),
    ("float32", lambda L, x: x.double()), ("float32", lambda L, x: x.permute(0, 2, 3, 1).half()),
    ("float64", lambda L, x: x.permute(0, 2, 3, 1).half()),
])
def test_cast_of_an_expanded_input(dtype, op):
    agree_layout(lambda L: op(L, expanded(L, dtype)), tol=2e-3)


@pytest.mark.parametrize("view", [lambda x: x, lambda x: x.transpose(0, 3),
                                  lambda x: x.permute(0, 2, 3, 1), lambda x: x.transpose(1, 2)])
def test_flip_of_an_expanded_input(view):
    def run(L):
        x = L.tensor(ROW.astype(np.float32)).requires_grad_()
        y = L.flip(view(x.expand(2, 3, 4, 5)), [1])
        (y * L.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)),
                      dtype=y.dtype)).sum().backward()
        return y, x.grad
    agree_layout(run, tol=1e-5)


def test_view_after_an_op_on_an_expanded_half_tensor():
    agree_layout(lambda L: L.nn.functional.softplus(expanded(L, "float16")).view(-1), tol=2e-3)


# ---- stack of channels-last(-3d) tensors: the new dim sits where unsqueeze puts it ---------
@pytest.mark.parametrize("dim", range(-5, 5))
def test_stack_of_channels_last(dim):
    agree_layout(lambda L: L.stack([cl(L), cl(L) * 2], dim))


@pytest.mark.parametrize("dim", range(6))
def test_stack_of_channels_last_3d(dim):
    agree_layout(lambda L: L.stack([cl3d(L), cl3d(L), cl3d(L, dtype="float64").float()], dim))


def test_stack_of_mixed_layouts_is_row_major():
    agree_layout(lambda L: [L.stack([cl(L), cl(L).contiguous()], 1),
                            L.stack([cl3d(L).contiguous(), cl3d(L)], 2)])


def test_stack_of_channels_last_gradient():
    def run(L):
        x = cl(L).requires_grad_()
        y = L.stack([x, x.sigmoid()], 1)
        (y * L.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)),
                      dtype=y.dtype)).sum().backward()
        return y, x.grad
    agree_layout(run, tol=1e-5)


# ---- a small seeded sweep of random op chains on unusual layouts ---------------------------
_SHAPES = {"plain": (2, 3, 4, 5), "cl": (2, 3, 4, 5), "cl3d": (2, 3, 2, 3, 4), "t": (4, 6),
           "perm": (3, 4, 5), "step": (2, 6, 4, 5), "flip": (2, 3, 4, 5), "expand": (1, 3, 1, 5),
           "size1": (2, 1, 4, 1), "zerod": ()}
_DTYPES = ["float32", "float64", "float16", "int64", "bool"]


def _leaf(L, layout, dtype, grad):
    """The sweep's input: seeded values of ``dtype`` in the ``layout`` named."""
    a = np.random.default_rng(0).standard_normal(_SHAPES[layout])
    a = np.round(a * 3) if dtype == "int64" else a > 0 if dtype == "bool" else a
    x = L.tensor(a.astype(dtype))
    make = {"cl": lambda: x.contiguous(memory_format=L.channels_last),
            "cl3d": lambda: x.contiguous(memory_format=L.channels_last_3d),
            "t": lambda: x.t(), "perm": lambda: x.permute(2, 0, 1), "step": lambda: x[:, ::2],
            "flip": lambda: L.flip(x, [1]).contiguous(memory_format=L.channels_last),
            "expand": lambda: x.expand(2, 3, 4, 5),
            "size1": lambda: x.contiguous(memory_format=L.channels_last)}
    x = make.get(layout, lambda: x)()
    return x.detach().requires_grad_() if grad else x


def _np_dtype(x):
    return str(x.dtype).split(".")[-1]


def _floating(x):
    return x.dtype.is_floating_point


def _numeric(x):
    return _np_dtype(x) != "bool"


def _wide_float(x):          # the kernels PyTorch's CPU has no float16 version of
    return _np_dtype(x) in ("float32", "float64")


def _spatial(x):
    return x.ndim == 4 and x.shape[1] > 0 and x.shape[2] >= 2 and x.shape[3] >= 2


def _linspace(L, like, *shape):
    n = int(np.prod(shape))
    return L.tensor(np.linspace(-1, 1, n).reshape(shape).astype(_np_dtype(like)))


_OPS = [   # (name, applies to x, op(L, x))
    ("add", lambda x: True, lambda L, x: x + 2),
    ("rsub", lambda x: True, lambda L, x: 3 - x),
    ("div", lambda x: True, lambda L, x: x / 2),
    ("add row", lambda x: x.ndim >= 1 and _numeric(x),
     lambda L, x: x + _linspace(L, x, x.shape[-1])),
    ("add contiguous", lambda x: True, lambda L, x: x + x.contiguous()),
    ("gt", lambda x: True, lambda L, x: x > 0),
    ("where", lambda x: True, lambda L, x: L.where(x > 0, x, x * 2)),
    ("clamp", _numeric, lambda L, x: x.clamp(-0.5, 0.5)),
    ("relu", _numeric, lambda L, x: L.relu(x)),
    ("gelu", _floating, lambda L, x: L.nn.functional.gelu(x)),
    ("silu", _floating, lambda L, x: L.nn.functional.silu(x)),
    ("sigmoid", _floating, lambda L, x: x.sigmoid()),
    ("tanh", _floating, lambda L, x: x.tanh()),
    ("leaky_relu", _floating, lambda L, x: L.nn.functional.leaky_relu(x, 0.1)),
    ("softplus", _floating, lambda L, x: L.nn.functional.softplus(x)),
    ("add_", lambda x: True, lambda L, x: (x * 1).add_(1)),
    ("mul_", lambda x: True, lambda L, x: (x + 0).mul_(2)),
    ("relu_", _numeric, lambda L, x: (x * 1).relu_()),
    ("clamp_", _numeric, lambda L, x: (x * 1).clamp_(-1, 1)),
    ("sum keepdim", lambda x: x.ndim >= 2, lambda L, x: x.sum(1, keepdim=True)),
    ("sum", lambda x: x.ndim >= 2, lambda L, x: x.sum(-1)),
    ("mean keepdim", lambda x: x.ndim >= 2 and _floating(x),
     lambda L, x: x.mean((-2, -1), keepdim=True)),
    ("amax keepdim", lambda x: x.ndim >= 2, lambda L, x: x.amax(1, keepdim=True)),
    ("var keepdim", lambda x: x.ndim >= 2 and _floating(x),
     lambda L, x: x.var(1, keepdim=True)),
    ("softmax", lambda x: x.ndim >= 1 and _floating(x), lambda L, x: x.softmax(0)),
    ("log_softmax", lambda x: x.ndim >= 1 and _floating(x), lambda L, x: x.log_softmax(-1)),
    ("cumsum", lambda x: x.ndim >= 1, lambda L, x: x.cumsum(0)),
    ("flatten", lambda x: True, lambda L, x: x.flatten(1) if x.ndim >= 2 else x.flatten()),
    ("permute", lambda x: x.ndim == 4, lambda L, x: x.permute(0, 2, 3, 1)),
    ("transpose", lambda x: x.ndim >= 2, lambda L, x: x.transpose(0, -1)),
    ("contiguous", lambda x: True, lambda L, x: x.contiguous()),
    ("clone channels_last", lambda x: x.ndim == 4,
     lambda L, x: x.clone(memory_format=L.channels_last)),
    ("cat", lambda x: x.ndim >= 2, lambda L, x: L.cat([x, x * 2], 1)),
    ("stack", lambda x: x.ndim >= 1, lambda L, x: L.stack([x, x], 1)),
    ("conv2d", lambda x: _spatial(x) and _wide_float(x),
     lambda L, x: L.nn.functional.conv2d(x, _linspace(L, x, 2, x.shape[1], 2, 2), padding=1)),
    ("max_pool2d", lambda x: _spatial(x) and _wide_float(x),
     lambda L, x: L.nn.functional.max_pool2d(x, 2)),
    ("avg_pool2d", lambda x: _spatial(x) and _wide_float(x),
     lambda L, x: L.nn.functional.avg_pool2d(x, 2, stride=1)),
    ("batch_norm", lambda x: x.ndim >= 2 and x.shape[0] > 1 and _wide_float(x),
     lambda L, x: L.nn.functional.batch_norm(x, None, None, training=True)),
    ("layer_norm", lambda x: x.ndim >= 1 and _wide_float(x),
     lambda L, x: L.nn.functional.layer_norm(x, x.shape[-1:])),
    ("group_norm", lambda x: x.ndim >= 2 and _wide_float(x),
     lambda L, x: L.nn.functional.group_norm(x, 1)),
    ("dropout eval", lambda x: True,
     lambda L, x: L.nn.functional.dropout(x, 0.3, training=False)),
    ("interpolate", lambda x: x.ndim == 4 and _wide_float(x),
     lambda L, x: L.nn.functional.interpolate(x, size=(3, 7), mode="bilinear")),
    ("pad", lambda x: x.ndim >= 2, lambda L, x: L.nn.functional.pad(x, (1, 2))),
    ("matmul", lambda x: x.ndim >= 2 and _wide_float(x), lambda L, x: x @ x.transpose(-1, -2)),
    ("linear", lambda x: x.ndim >= 1 and _wide_float(x),
     lambda L, x: L.nn.functional.linear(x, _linspace(L, x, 3, x.shape[-1]))),
    ("to float64", lambda x: True, lambda L, x: x.double()),
    ("sort", lambda x: x.ndim >= 1 and _numeric(x), lambda L, x: x.sort(dim=-1, stable=True)[0]),
    ("roll", lambda x: x.ndim >= 1, lambda L, x: L.roll(x, 1, 0)),
    ("slice", lambda x: x.ndim >= 2, lambda L, x: x[:, ::2]),
    ("unsqueeze", lambda x: True, lambda L, x: x.unsqueeze(0)),
    ("masked_fill", lambda x: True, lambda L, x: x.masked_fill(x > 0, 0)),
]


def _chain(seed):
    """The seed's (layout, dtype, op names, grad): 2-4 ops that apply one after another
    (tried on PyTorch)."""
    rng = np.random.default_rng(seed)
    layout = list(_SHAPES)[rng.integers(len(_SHAPES))]
    dtype = _DTYPES[rng.choice(5, p=[0.4, 0.25, 0.1, 0.15, 0.1])]
    want, chosen = int(rng.integers(2, 5)), []
    y = _leaf(torch, layout, dtype, False)
    for i in rng.integers(len(_OPS), size=16):
        name, applies, op = _OPS[i]
        if len(chosen) == want:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if applies(y):
                    y, chosen = op(torch, y), chosen + [i]
        except RuntimeError:          # (a chain PyTorch refuses is not tried)
            continue
    grad = dtype in ("float32", "float64") and rng.random() < 0.6
    return layout, dtype, chosen, grad


def _run_chain(L, layout, dtype, chosen, grad):
    x = _leaf(L, layout, dtype, grad)
    y = x
    for i in chosen:
        y = _OPS[i][2](L, y)
    if grad and y.requires_grad:
        (y * L.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)),
                      dtype=y.dtype)).sum().backward()
        return [y, x.grad]
    return [y]


@pytest.mark.parametrize("block", range(4))
def test_seeded_sweep_of_op_chains(block):
    """50 seeded chains per block; a failure names the chain (rerun: _chain(seed))."""
    for seed in range(block * 50, block * 50 + 50):
        layout, dtype, chosen, grad = _chain(seed)
        where = f"seed {seed}: {layout} {dtype} " + " -> ".join(_OPS[i][0] for i in chosen)
        tol = {"float16": 2e-2, "float64": 1e-9}.get(dtype, 1e-4)
        if "float64" in str([_OPS[i][0] for i in chosen]) and dtype != "float64":
            tol = max(tol, 1e-6)
        try:
            agree_layout(lambda L: _run_chain(L, layout, dtype, chosen, grad), tol)
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from None
