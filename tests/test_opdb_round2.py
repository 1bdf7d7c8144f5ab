"""Regressions from the second round of PyTorch's OpInfo samples (op_db): matrix norms and
singular values, norms at zero, integer einsum / dot, integer arange / linspace, layouts, the
in-place samplers, reflected bit operators and Module.to(memory_format=)."""
import math
import re

import numpy as np
import pytest
import torch

import minigrad


def _pair(*shape, seed=0):
    """The same float64 values as a torch and a minigrad leaf requiring grad."""
    values = np.random.default_rng(seed).standard_normal(shape)
    return (torch.tensor(values, requires_grad=True),
            minigrad.tensor(values).requires_grad_(True))


def _close(mine, theirs, **kw):
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(),
                               rtol=1e-7, atol=1e-10, **kw)


def _first_and_second(fn_t, fn_m, shape, seed=0):
    """Forward, gradient and a weighted second derivative of fn on torch and minigrad."""
    t, m = _pair(*shape, seed=seed)
    out_t, out_m = fn_t(t), fn_m(m)
    _close(out_m, out_t)
    g_t, = torch.autograd.grad(out_t.sum(), t, create_graph=True)
    g_m, = minigrad.autograd.grad(out_m.sum(), m, create_graph=True)
    _close(g_m, g_t)
    w = np.random.default_rng(seed + 1).standard_normal(shape)
    gg_t, = torch.autograd.grad((g_t * torch.tensor(w)).sum(), t)
    if not g_m.requires_grad:                 # piecewise linear: no second derivative
        assert not gg_t.any()
        return
    gg_m, = minigrad.autograd.grad((g_m * minigrad.tensor(w)).sum(), m)
    _close(gg_m, gg_t)


# -- matrix norms and singular values ----------------------------------------------------------
@pytest.mark.parametrize("ord", [1, -1, math.inf, -math.inf, 2, -2, "nuc", "fro"])
@pytest.mark.parametrize("shape,dim,keepdim", [((4, 4), (-2, -1), False),
                                               ((3, 5), (-1, -2), True),
                                               ((2, 5, 3), (-1, 0), False)])
def test_matrix_norm_orders_first_and_second_order(ord, shape, dim, keepdim):
    _first_and_second(lambda a: torch.linalg.matrix_norm(a, ord, dim, keepdim),
                      lambda a: minigrad.linalg.matrix_norm(a, ord, dim, keepdim), shape)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_svdvals_first_and_second_order(shape):
    def f(lib):
        return lambda a: (lib.linalg.svdvals(a) ** 2).sum(-1) + lib.linalg.svdvals(a)[..., 0]
    _first_and_second(f(torch), f(minigrad), shape)


def test_nuclear_norm_third_order():
    def f(lib):
        def inner(a):
            g, = lib.autograd.grad(lib.linalg.matrix_norm(a, "nuc"), a, create_graph=True)
            return (g ** 2).sum()
        return inner
    _first_and_second(f(torch), f(minigrad), (3, 4))


@pytest.mark.parametrize("ord", [1, -1, math.inf, -math.inf, 2, -2, "nuc"])
@pytest.mark.parametrize("shape", [(5, 0), (0, 5), (0, 0), (2, 5, 0)])
def test_matrix_norm_of_empty_matrices(ord, shape):
    try:
        expected = torch.linalg.matrix_norm(torch.ones(shape, dtype=torch.float64), ord)
    except IndexError as e:
        with pytest.raises(IndexError, match=re.escape(str(e))):
            minigrad.linalg.matrix_norm(minigrad.ones(shape, dtype=minigrad.float64), ord)
        return
    got = minigrad.linalg.matrix_norm(minigrad.ones(shape, dtype=minigrad.float64), ord)
    assert got.shape == expected.shape and np.array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("call", [
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 4), 3),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 4), "foo"),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3, dtype=lib.int64), 1),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 4), 1, dim=(0, 0)),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 4), 1, dim=(0,)),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3), 1),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 4, dtype=lib.float64), 2, dtype=lib.float32),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 4), 2, dtype=lib.int64),
    lambda lib: lib.linalg.norm(lib.ones(2, 3, 4), 1),
    lambda lib: lib.linalg.norm(lib.ones(2, 3, 4), dim=(0, 1, 2)),
    lambda lib: lib.linalg.norm(lib.ones(3, 3), "fro", dim=0),
    lambda lib: lib.linalg.svdvals(lib.ones(3)),
    lambda lib: lib.linalg.svdvals(lib.ones(3, 3, dtype=lib.int64)),
    lambda lib: lib.linalg.vector_norm(lib.ones(0), -1),
    lambda lib: lib.linalg.vector_norm(lib.ones(3, dtype=lib.float64), dtype=lib.float32),
])
def test_norm_errors_as_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(minigrad)
    assert str(mine.value) == str(theirs.value)


def test_norm_nuc_and_linalg_norm_dispatch():
    t, m = _pair(2, 3, 4)
    _close(minigrad.norm(m[0], "nuc", keepdim=True), torch.norm(t[0], "nuc", keepdim=True))
    _close(minigrad.norm(m, "nuc", dim=(0, 2)), torch.norm(t, "nuc", dim=(0, 2)))
    _close(minigrad.linalg.norm(m, 2, dim=(2, 1), keepdim=True),
           torch.linalg.norm(t, 2, dim=(2, 1), keepdim=True))
    _close(minigrad.linalg.norm(m[0], -math.inf), torch.linalg.norm(t[0], -math.inf))
    _close(minigrad.linalg.norm(m[0, 0], 3), torch.linalg.norm(t[0, 0], 3))


@pytest.mark.parametrize("ord", [0.5, -0.5, -1, -2, 1.5, 3.5])
@pytest.mark.parametrize("values", [[0.0, 0.0, 0.0], [0.0, 1.0, -2.0]])
def test_vector_norm_gradient_at_zero(ord, values):
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    m = minigrad.tensor(values, dtype=minigrad.float64).requires_grad_(True)
    out_t, out_m = torch.linalg.vector_norm(t, ord), minigrad.linalg.vector_norm(m, ord)
    _close(out_m, out_t)
    out_t.backward()
    out_m.backward()
    _close(m.grad, t.grad)


# -- integer dot and einsum --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64"])
def test_dot_keeps_integer_dtype(dtype):
    a = torch.full((3,), 200, dtype=getattr(torch, dtype))
    got = minigrad.dot(minigrad.tensor(a.numpy()), minigrad.tensor(a.numpy()))
    expected = torch.dot(a, a)
    assert str(got.dtype)[9:] == str(expected.dtype)[6:] and got.item() == expected.item()


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("eq,shapes", [("ij->i", [(2, 3)]), ("ii->", [(2, 2)]),
                                       ("iji->j", [(2, 3, 2)]), ("ij->ji", [(2, 3)]),
                                       ("i,i->", [(3,), (3,)]), ("ij,jk->", [(2, 3), (3, 2)]),
                                       ("ij,kl->ijkl", [(2, 3), (3, 2)]),
                                       ("i,i->i", [(3,), (3,)]), ("i,j->", [(3,), (3,)]),
                                       ("ij,jk->ik", [(2, 3), (3, 2)])])
def test_einsum_integer_result_dtype(dtype, eq, shapes):
    gen = torch.Generator().manual_seed(0)
    ops = [torch.randint(0, 200, s, generator=gen).to(getattr(torch, dtype)) for s in shapes]
    mine = [minigrad.tensor(t.numpy()) for t in ops]
    try:
        expected = torch.einsum(eq, *ops)
    except NotImplementedError as e:         # bool products: no bmm for bool
        with pytest.raises(NotImplementedError, match=re.escape(str(e))):
            minigrad.einsum(eq, *mine)
        return
    got = minigrad.einsum(eq, *mine)
    assert str(got.dtype)[9:] == str(expected.dtype)[6:]
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
