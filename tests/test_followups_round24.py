"""Follow-ups of round 24, each against torch: the uint16/32/64 refusals at the edges of the
ops that now make them (what still computes, what is refused by which kernel), the names of
the nodes of vdot, LSTMCell and the in-place random fills, numpy scalars and floats as
indices, and the number arguments of the activations (gelu's keyword-only approximate)."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (torch, minigrad)


def _plain(value):
    if isinstance(value, (torch.Tensor, minigrad.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], tuple(value.shape), value.tolist())
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _outcome(program, lib):
    try:
        return "value", _plain(program(lib))
    except Exception as exc:        # noqa: BLE001  (the exception is what is compared)
        return "raise", type(exc), str(exc).splitlines()[0]


def same(program, rtol=0.0):
    """The same value on both (a tensor's numbers within ``rtol``: the libraries' float32
    kernels may round differently), or the same exception type with PyTorch's first line."""
    theirs, mine = (_outcome(program, lib) for lib in LIBS)
    assert theirs[0] == mine[0], (theirs, mine)
    if theirs[0] == "value" and rtol and theirs[1][0] == "tensor":
        assert theirs[1][:3] == mine[1][:3], (theirs, mine)
        np.testing.assert_allclose(mine[1][3], theirs[1][3], rtol=rtol, atol=1e-12)
    elif theirs[0] == "value":
        assert theirs[1] == mine[1], (theirs, mine)
    else:
        assert mine[1] is theirs[1] and mine[2].startswith(theirs[2]), (theirs, mine)


def _eval(expr, **extra):
    def program(L):
        env = {"L": L, "F": L.nn.functional, "np": np, **{k: v(L) for k, v in extra.items()}}
        return eval(expr, env)
    return program


# ----------------------------------------------------------------------------------------------
# uint16/32/64: refused by the kernel PyTorch names; computed where it computes
# ----------------------------------------------------------------------------------------------
_UNSIGNED_EDGES = [
    "X.clone().__iadd__(Y)", "X.clone().__isub__(Y)", "X.clone().add_(Y)", "X.clone().mul_(Y)",
    "L.isin(X, Y)", "L.isin(X, 1)", "L.isin(1, X)", "L.isin(X, Y[:1].reshape(()))",
    "L.isin(E, Y)", "L.searchsorted(X, 2)", "L.searchsorted(X, E)", "L.searchsorted(E, X)",
    "L.bucketize(2, X)", "X.histc()", "E.histc()", "X.histc(bins=3, min=0, max=3)",
    "X.histc(min=1, max=1)", "X.flip(0)", "X.flip(())", "E.flip(0)", "X[0].flip(0)",
    "X.reshape(1, 3).fliplr()", "L.rot90(X.reshape(1, 3))", "L.combinations(X)",
    "L.combinations(X, 0)", "L.combinations(X, 1)", "L.combinations(X[:1])",
    "L.combinations(X, 2, True)", "X.heaviside(Y)", "E.heaviside(E)",
    "X.heaviside(Y.to(L.int64))", "X.heaviside(Y[:2])",
    # PyTorch names these dtypes in C++ when a matrix product meets another dtype
    "X.unsqueeze(0).mm(Y.to(L.float32).unsqueeze(1))", "X @ L.stack([X, Y, X]).double()",
]


@pytest.mark.parametrize("d", ["uint16", "uint32", "uint64"])
@pytest.mark.parametrize("expr", _UNSIGNED_EDGES)
def test_unsigned_edges(d, expr):
    same(_eval(expr, X=lambda L: L.tensor([1, 2, 3], dtype=getattr(L, d)),
               Y=lambda L: L.tensor([3, 2, 1], dtype=getattr(L, d)),
               E=lambda L: L.tensor([], dtype=getattr(L, d))))


# ----------------------------------------------------------------------------------------------
# node names
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fill", [
    "uniform_()", "normal_()", "exponential_()", "geometric_(0.5)", "cauchy_()", "log_normal_()",
    "bernoulli_(0.5)", "bernoulli_()", "bernoulli_(p=P)", "bernoulli_(P)", "random_()",
    "random_(5)", "random_(to=5)", "random_(1, 5)", "random_(0, to=5)",
])
def test_random_fill_nodes(fill):
    def program(L):
        x = L.ones(3, requires_grad=True)
        y = eval("(x * 1)." + fill, {"x": x, "P": L.full((3,), 0.5)})
        y.sum().backward()
        return type(y.grad_fn).__name__, type(y.grad_fn.next_functions[0][0]).__name__, \
            x.grad.tolist()
    same(program)


@pytest.mark.parametrize("fill", ["uniform_()", "bernoulli_(0.5)", "random_(1, 5)"])
def test_random_fill_of_a_view_keeps_the_view_node(fill):
    def program(L):
        x = L.ones(4, requires_grad=True)
        y = x * 1
        v = y[:2]
        eval("v." + fill, {"v": v})
        y.sum().backward()
        return type(y.grad_fn).__name__, type(v.grad_fn).__name__, x.grad.tolist()
    same(program)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_vdot_node(dtype):
    a0 = np.array([1.0, -2.0, 0.5]) * (1 + 0.5j if dtype == "complex128" else 1)
    b0 = np.array([0.25, 3.0, -1.0]) * (2 - 1j if dtype == "complex128" else 1)

    def program(L):
        a = L.tensor(a0, requires_grad=True)
        b = L.tensor(b0, requires_grad=True)
        out = L.vdot(a, b)
        names = type(out.grad_fn).__name__, type(a.vdot(b).grad_fn).__name__
        out.abs().backward() if dtype == "complex128" else out.backward()
        return names, [np.round(np.asarray(t.grad.tolist()), 12).tolist() for t in (a, b)]
    same(program)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("state", [True, False])
def test_lstm_cell_nodes_and_writable_results(batched, state):
    """h' and c' are PyTorch's products and sum (MulBackward0, AddBackward0), plain tensors
    that may be written in place before the backward."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s) for s in ((16, 3), (16, 4), (16,), (16,))]
    x0 = rng.standard_normal((2, 3) if batched else (3,))
    hc0 = [rng.standard_normal((2, 4) if batched else (4,)) for _ in range(2)]

    def program(L):
        cell = L.nn.LSTMCell(3, 4).double()
        with L.no_grad():
            for p, v in zip(cell.parameters(), params):
                p.copy_(L.tensor(v))
        hx = tuple(L.tensor(v) for v in hc0) if state else None
        h, c = cell(L.tensor(x0), hx)
        names = type(h.grad_fn).__name__, type(c.grad_fn).__name__
        h.mul_(2)
        c.add_(1)
        (h.sum() + (c * c).sum()).backward()
        return names, np.round(cell.weight_hh.grad.numpy(), 10).tolist()
    same(program)


# ----------------------------------------------------------------------------------------------
# indices
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "x[np.bool_(True)]", "x[(np.bool_(False),)]", "x[0, np.bool_(True)]", "x[np.float64(1.0)]",
    "x[np.float32(1.0)]", "x[np.float16(1)]", "x[np.complex128(1)]", "x[..., np.float32(0)]",
    "x[1.0]", "x[np.int8(1)]", "x[[1.5]]", "x[[0.5]]", "x[[-0.5]]", "x[[-1.5]]", "x[[1.5, 0]]",
    "x[[[1.5, 0], [0, 1]]]", "x[0, [1.7, 2.2]]", "x[[1, 0.5], [0, 1]]", "x[[True, 1.5]]",
    "x[[np.float64(1.0)]]", "x[[np.float32(1.5)]]", "x[[1j]]", "x[[float('nan')]]", "x[[1e30]]",
    "x[np.array([1.5])]", "x[np.array(1.5)]", "x[[1], np.array(1.5)]",
    "x.clone().__setitem__(np.bool_(True), 1)", "x.clone().__setitem__(np.float64(1), 1)",
    "y.__setitem__([1.5], 7) or y",
])
def test_numpy_scalars_and_floats_as_indices(expr):
    same(_eval(expr, x=lambda L: L.arange(6.).reshape(2, 3),
               y=lambda L: L.arange(6.).reshape(2, 3)))


def test_float_list_index_gradient():
    def program(L):
        x = L.arange(6., requires_grad=True)
        x[[1.5, 1.2, 4.9]].sum().backward()
        return x.grad
    same(program)


# ----------------------------------------------------------------------------------------------
# activations' number arguments
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "F.gelu(x, 'none')", "F.gelu(x, 'tanh')", "F.gelu(x, 'none', 3)",
    "F.gelu(x, approximate='tanh').shape", "F.gelu(x, approximate=1)",
    "F.leaky_relu(x, 'a')", "F.leaky_relu(x, None)", "F.leaky_relu(x, [1])",
    "F.leaky_relu(x, negative_slope='a')", "F.leaky_relu(x.clone(), 'a', True)",
    "F.leaky_relu(x.int(), 'a')", "F.leaky_relu(x, L.tensor([0.1]))",
    "F.leaky_relu(x, np.array(.1))", "F.leaky_relu(x, L.tensor(0.1, requires_grad=True))",
    "F.leaky_relu(x, L.tensor(0.1))", "F.leaky_relu(x, np.float64(.1))",
    "F.elu(x, 'a')", "F.elu(x, None)", "F.elu(x, alpha='a')", "F.elu(x.clone(), 'a', True)",
    "F.elu(x.int(), 'a')", "F.elu(x, np.int64(2))", "F.elu(x, 1j)", "F.elu(x, 2 + 0j)",
    "F.celu(x, 'a')", "F.celu(x.clone(), 'a', True)",
    "F.softplus(x, 'a')", "F.softplus(x, beta='a')", "F.softplus(x, beta=[1])",
    "F.softplus(x, 1, 'a')", "F.softplus(x, threshold='a')", "F.softplus(x, 2, threshold='a')",
    "F.softplus(x, 'a', threshold='b')", "F.softplus(x, beta=None)", "F.softplus(x, 1, 20, 3)",
    "F.softplus(x, 1, beta=2)", "F.softplus(x, foo=1)", "F.softplus(x, L.tensor(2.))",
    "F.softplus(x, L.tensor([1.]))", "F.softplus(x, 2, 1)", "F.softplus(input=x, beta=2)",
    "F.softplus(x, 1j)", "F.softplus(x.int(), 'a')",
    "F.threshold(x, 'a', 0)", "F.threshold(x, 0, 'a')", "F.threshold(x, [0], 0)",
    "F.threshold(x, threshold='a', value=0)", "F.threshold(x.clone(), 'a', 0, True)",
    "F.threshold(x.bool(), 'a', 0)", "F.threshold(x, L.tensor([1.]), 0)",
    "F.threshold(x, 1, L.tensor(-1))", "F.threshold(x, 1j, 0)",
    "F.hardshrink(x, None)", "F.softshrink(x, L.tensor(0.5, requires_grad=True))",
    "F.rrelu(x, 'a')", "F.rrelu(x, 0.1, 'b')", "F.rrelu(x, lower='a')", "F.rrelu(x, None)",
    "F.rrelu_(x.clone(), 'a')", "F.rrelu(x, 'a', training=True)", "F.rrelu(x, 0.1, 0.2)",
    "F.rrelu(x, L.tensor(0.1), 0.2)",
])
def test_activation_number_arguments(expr):
    same(_eval(expr, x=lambda L: L.arange(-3., 3.)), rtol=1e-6)


def test_softplus_by_position_keeps_its_node_and_gradient():
    def program(L):
        x = L.linspace(-3., 3., 7, dtype=L.float64, requires_grad=True)
        y = L.nn.functional.softplus(x, 2, 1)
        y.sum().backward()
        return type(y.grad_fn).__name__, np.round(x.grad.numpy(), 12).tolist()
    same(program)
