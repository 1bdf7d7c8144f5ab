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
    # force: torch's second derivative of a piecewise-linear function is a ZeroTensor
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(force=True),
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


# -- integer arange / linspace, full_like wrapping ----------------------------------------------
def _same_tensor(got, expected):
    assert str(got.dtype)[9:] == str(expected.dtype)[6:]
    assert tuple(got.shape) == tuple(expected.shape)
    if expected.is_floating_point():      # PyTorch's vectorised kernels round differently
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def _same_call(call):
    """call(lib) on both: equal tensors, or the same exception type and message (its first
    five words: minigrad names the dtype as minigrad does and adds the value)."""
    try:
        expected = call(torch)
    except Exception as e:                                  # noqa: BLE001
        with pytest.raises(type(e), match=re.escape(" ".join(str(e).split()[:5]))):
            call(minigrad)
        return
    _same_tensor(call(minigrad), expected)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "int16", "float32", "float64"])
@pytest.mark.parametrize("args", [(-0.9, 2.1, 2.0), (0, -8.000001, -4), (0.5, 5.7, 1.5),
                                  (2.7,), (0.0, 2.7), (1.9, -3.2, -1.1), (0, 5, 0.5), (-3, 3),
                                  (0, 300, 50), (0.2, 0.9, 1), (-0.2, 0.9), (5, 0, 1), (0, 5, 0)])
def test_arange_with_integer_dtypes(dtype, args):
    _same_call(lambda lib: lib.arange(*args, dtype=getattr(lib, dtype)))


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float32", "float64"])
@pytest.mark.parametrize("args", [(4.3, -3, 50), (-4.3, 3, 7), (0, 10, 4), (0, 300, 4),
                                  (-5, 5, 4), (0.0, 1.0, 1), (10, 0, 4), (0, 10, 7),
                                  (0.1, 1.0, 5), (2, 3, 0)])
def test_linspace_with_integer_dtypes(dtype, args):
    _same_call(lambda lib: lib.linspace(*args, dtype=getattr(lib, dtype)))


def test_linspace_tensor_start_computed_in_the_requested_dtype():
    _same_call(lambda lib: lib.linspace(lib.tensor(-0.7, dtype=lib.float32), lib.tensor(1.3),
                                        50, dtype=lib.float64))
    _same_call(lambda lib: lib.linspace(lib.tensor(4.3), lib.tensor(-3), 50, dtype=lib.int32))
    _same_call(lambda lib: lib.linspace(lib.tensor([0.1]), 1.0, 5))


@pytest.mark.parametrize("dtype,value", [("uint8", -9), ("uint8", 300), ("uint8", -255),
                                         ("uint8", -256), ("uint8", -0.5), ("uint8", 255.0),
                                         ("int8", -129), ("int32", 2 ** 40), ("bool", 5)])
def test_full_like_converts_the_fill_value_as_torch(dtype, value):
    _same_call(lambda lib: lib.full_like(lib.ones(3, dtype=getattr(lib, dtype)), value))
    _same_call(lambda lib: lib.full((2,), value, dtype=getattr(lib, dtype)))


# -- layouts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda lib, lay: lib.zeros(2, 3, layout=lay), lambda lib, lay: lib.ones(2, layout=lay),
    lambda lib, lay: lib.empty(2, layout=lay), lambda lib, lay: lib.full((2,), 1.0, layout=lay),
    lambda lib, lay: lib.arange(3, layout=lay), lambda lib, lay: lib.linspace(0, 1, 3, layout=lay),
    lambda lib, lay: lib.eye(2, layout=lay), lambda lib, lay: lib.rand(2, layout=lay),
    lambda lib, lay: lib.randn(2, layout=lay), lambda lib, lay: lib.randint(3, (2,), layout=lay),
    lambda lib, lay: lib.randperm(3, layout=lay),
    lambda lib, lay: lib.zeros_like(lib.ones(2), layout=lay),
    lambda lib, lay: lib.ones_like(lib.ones(2), layout=lay),
    lambda lib, lay: lib.empty_like(lib.ones(2), layout=lay),
    lambda lib, lay: lib.full_like(lib.ones(2), 3.0, layout=lay),
    lambda lib, lay: lib.rand_like(lib.ones(2), layout=lay),
    lambda lib, lay: lib.randn_like(lib.ones(2), layout=lay),
    lambda lib, lay: lib.normal(1.6, 0.3, (2, 2), layout=lay)])
def test_factories_take_the_strided_layout(make):
    out = make(minigrad, minigrad.strided)
    assert out.layout is minigrad.strided and out.shape == make(torch, torch.strided).shape
    assert isinstance(minigrad.strided, minigrad.layout)
    with pytest.raises(TypeError, match="argument 'layout' must be|received an invalid "
                                        "combination"):
        make(minigrad, "strided")
    # sparse_coo: the empty sparse tensor where torch makes one (zeros, empty and their
    # _like forms), torch's kind of error elsewhere
    try:
        want = make(torch, torch.sparse_coo)
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            make(minigrad, minigrad.sparse_coo)
    else:
        got = make(minigrad, minigrad.sparse_coo)
        assert repr(got) == repr(want).replace("torch.", "minigrad.")


def test_layout_objects():
    assert repr(minigrad.strided) == "minigrad.strided"
    with pytest.raises(TypeError, match="cannot create"):
        minigrad.layout()
    import copy
    assert copy.deepcopy(minigrad.strided) is minigrad.strided


# -- in-place samplers -------------------------------------------------------------------------
def test_in_place_samplers_draw_from_their_distributions():
    minigrad.manual_seed(0)
    x = minigrad.zeros(20000, dtype=minigrad.float64)
    assert x.normal_(1.0, 5.0) is x and abs(x.mean().item() - 1) < 0.2 and \
        abs(x.std().item() - 5) < 0.2
    v = x.uniform_(2, 3).numpy()
    assert v.min() >= 2 and v.max() < 3 and abs(v.mean() - 2.5) < 0.02
    assert abs(x.exponential_(lambd=2).mean().item() - 0.5) < 0.02
    v = x.geometric_(0.25).numpy()
    assert v.min() >= 1 and np.all(v == np.round(v)) and abs(v.mean() - 4) < 0.15
    assert abs(np.median(x.log_normal_(1.0, 0.5).numpy()) - math.e) < 0.1
    assert abs(np.median(x.cauchy_(3.0, 2.0).numpy()) - 3) < 0.1
    v = x.random_(3, 6).numpy()
    assert set(np.unique(v)) == {3, 4, 5}
    assert set(np.unique(x.random_(4).numpy())) == {0, 1, 2, 3}
    assert x.random_().max().item() <= 2 ** 53
    assert set(np.unique(x.bernoulli_(0.3).numpy())) == {0, 1}
    ints = minigrad.zeros(1000, dtype=minigrad.uint8).random_()
    assert ints.dtype == minigrad.uint8 and ints.max().item() > 200
    assert minigrad.zeros(5, dtype=minigrad.int64).random_(-5, -2).max().item() < -2


def test_in_place_samplers_generator_reproducible():
    a = minigrad.zeros(5).normal_(generator=minigrad.Generator().manual_seed(3))
    b = minigrad.zeros(5).normal_(generator=minigrad.Generator().manual_seed(3))
    assert np.array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(3).normal_(0, -1), lambda lib: lib.zeros(3, dtype=lib.int64).normal_(),
    lambda lib: lib.zeros(3).uniform_(2, 1),
    lambda lib: lib.zeros(3, dtype=lib.int64).uniform_(),
    lambda lib: lib.zeros(3).exponential_(0),
    lambda lib: lib.zeros(3, dtype=lib.int64).exponential_(),
    lambda lib: lib.zeros(3).geometric_(1), lambda lib: lib.zeros(3).log_normal_(1, 0),
    lambda lib: lib.zeros(3, dtype=lib.int64).log_normal_(),
    lambda lib: lib.zeros(3).cauchy_(0, 0), lambda lib: lib.zeros(3, dtype=lib.int32).cauchy_(),
    lambda lib: lib.zeros(3).random_(3, 3),
    lambda lib: lib.zeros(3, dtype=lib.uint8).random_(-1, 2),
    lambda lib: lib.zeros(3, dtype=lib.uint8).random_(0, 300),
    lambda lib: lib.zeros(3).bernoulli_(2),
    lambda lib: lib.ones(2, requires_grad=True).normal_()])
def test_in_place_sampler_errors_as_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(minigrad)
    assert str(mine.value).startswith(str(theirs.value))     # minigrad may add advice


# -- Module.to(memory_format=) -------------------------------------------------------------------
def test_module_to_memory_format_lays_out_4d_and_5d_tensors():
    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3), lib.nn.BatchNorm2d(4),
                                 lib.nn.Linear(2, 2))
    mine, theirs = build(minigrad), build(torch)
    assert mine.to(memory_format=minigrad.channels_last) is mine
    theirs.to(memory_format=torch.channels_last)
    for (name, a), (_, b) in zip(list(mine.named_parameters()) + list(mine.named_buffers()),
                                 list(theirs.named_parameters()) + list(theirs.named_buffers())):
        assert a.stride() == b.stride(), name
    assert mine[0].weight.is_contiguous(memory_format=minigrad.channels_last)
    mine.to(memory_format=minigrad.contiguous_format)
    assert mine[0].weight.stride() == (27, 9, 3, 1)
    with pytest.raises(RuntimeError, match="required rank 5"):
        minigrad.nn.Conv2d(2, 2, 2).to(memory_format=minigrad.channels_last_3d)
    with pytest.raises(TypeError, match="memory_format"):
        minigrad.nn.Linear(2, 2).to(memory_format="channels_last")
