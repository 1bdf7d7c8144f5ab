"""Round 37's fast paths beside PyTorch: ``Expand``'s direct view of contiguous memory (the
broadcast every sum/mean backward and many binary ops make; other inputs keep numpy's
broadcast_to) and SiLU's four-pass slope. Values, strides, read-only-ness, gradients (to
second order, float64), float32 and float64, and the cases that choose between the paths."""
import functools

import numpy as np
import pytest
import torch

import minigrad
from minigrad.ops.plumbing import Expand, _broadcasts
from torch_agreement import TORCH_FIRST, leaves, same_tensor

F32 = dict(rtol=2e-6, atol=1e-6)
F64 = dict(rtol=1e-12, atol=1e-13)
DTYPES = [(np.float32, F32), (np.float64, F64)]

# the same values as a (torch, minigrad) pair of leaves: _both(array, grad=True)
_both = functools.partial(leaves, order=TORCH_FIRST)


# ----------------------------------------------------------------------------------------------
# Expand: contiguous inputs get a view made at once; the shape rules decide the path
# ----------------------------------------------------------------------------------------------
EXPANDS = [((1, 1), (4, 4)), ((3, 1), (2, 3, 4)), ((), (2, 3)), ((4,), (1, 1, 4)),
           ((1, 4), (1, 4)), ((2, 1, 3), (5, 2, 1, 3)), ((2, 1, 3), (2, 7, 3)), ((1,), (0,)),
           ((5,), (3, 5)), ((1, 1, 1), (2, 1, 3))]


@pytest.mark.parametrize("shape,to", EXPANDS)
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_expand_values_strides_and_gradient(shape, to, dtype, tol):
    a = np.arange(1, 1 + int(np.prod(shape)), dtype=dtype).reshape(shape)
    t, m = _both(a)
    te, me = t.expand(*to), m.expand(*to)
    same_tensor(me, te, **tol)
    if 0 not in to:     # (a size-0 result's strides are checked apart, below)
        assert me.stride() == te.stride()
    assert me.is_contiguous() == te.is_contiguous()
    g = np.random.default_rng(0).standard_normal(to).astype(dtype)
    te.backward(torch.tensor(g))
    me.backward(minigrad.tensor(g))
    same_tensor(m.grad, t.grad, **tol)


@pytest.mark.parametrize("shape,to", EXPANDS + [((3,), (4,)), ((2,), (3, -1)), ((2, 3), (3,)),
                                                ((2, 3), (2, 1))])
def test_broadcast_check_agrees_with_numpy(shape, to):
    """The direct view is taken exactly where numpy's broadcast_to would accept the shape
    (the strides themselves are checked against torch's by the expand tests above)."""
    a = np.zeros(shape, np.float32)
    try:
        np.broadcast_to(a, to)
        accepted = True
    except ValueError:
        accepted = False
    assert _broadcasts(a, to) == accepted



def test_expand_of_a_noncontiguous_input_keeps_numpys_path():
    a = np.arange(24.0).reshape(4, 6)
    t = torch.tensor(a)[:, ::2][:, None, :]             # (4, 1, 3), strided
    m = minigrad.tensor(a)[:, ::2][:, None, :]
    assert not m._array.flags.c_contiguous
    te, me = t.expand(4, 5, 3), m.expand(4, 5, 3)
    same_tensor(me, te, **F64)
    assert me.stride() == te.stride()


def test_expand_is_a_view_writes_through_and_refuses_repeated_writes():
    base_t, base_m = torch.arange(6.0).reshape(2, 3), minigrad.arange(6.0).reshape(2, 3)
    # no repeated element (new size-1 dims): written through, as PyTorch
    for base in (base_t, base_m):
        v = base.expand(1, 2, 3)
        v[0, 1, 2] = 50.0
        assert float(base[1, 2]) == 50.0
        assert v._base is not None
    # repeated elements: an in-place write is refused in both
    rep_t, rep_m = base_t[:1].expand(4, 3), base_m[:1].expand(4, 3)
    with pytest.raises(RuntimeError):
        rep_t.add_(1.0)
    with pytest.raises(RuntimeError):
        rep_m.add_(1.0)
    # the base's later writes show through the view
    base_m[0, 0] = -7.0
    assert float(rep_m[3, 0]) == -7.0


def test_expand_array_is_read_only_where_it_repeats_and_owned_by_the_input():
    a = np.arange(3.0, dtype=np.float32).reshape(1, 3)
    out = Expand.apply(minigrad.tensor(a), shape=(4, 3))._array
    assert not out.flags.writeable
    kept = Expand.apply(minigrad.tensor(a), shape=(1, 1, 3))._array
    assert kept.flags.writeable
    ro = np.broadcast_to(np.float32(2.0), (1, 1))       # contiguous but read-only input
    out = Expand.apply(minigrad.tensor(ro), shape=(3, 2))._array
    assert not out.flags.writeable and np.all(out == 2.0)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("dims", [None, (0,), (1,), (0, 2)])
def test_reduction_backward_through_expand(dtype, tol, reduce, dims):
    x = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(dtype)
    t, m = _both(x)
    outs = []
    for lib, v in ((torch, t), (minigrad, m)):
        y = getattr(v, reduce)() if dims is None else getattr(v, reduce)(dims)
        y = (y * 3.0 + 1.0)
        g = np.random.default_rng(3).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(lib.tensor(g))
        outs.append(v.grad)
    same_tensor(outs[1], outs[0], **tol)


def test_second_derivative_through_expand_float64():
    x = np.random.default_rng(4).standard_normal((3, 1, 4))
    res = []
    for lib in (torch, minigrad):
        v = lib.tensor(x, requires_grad=True)
        y = (v.expand(2, 3, 5, 4) ** 3).sum()
        g, = lib.autograd.grad(y, v, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), v)
        res.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(res[1][0], res[0][0], **F64)
    np.testing.assert_allclose(res[1][1], res[0][1], **F64)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_broadcast_binary_ops_and_their_gradients(dtype, tol):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4, 1, 3)).astype(dtype), rng.standard_normal((5, 1)).astype(dtype)
    (ta, ma), (tb, mb) = _both(a), _both(b)
    ty, my = ta * tb + tb, ma * mb + mb
    same_tensor(my, ty, **tol)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    same_tensor(ma.grad, ta.grad, **tol)
    same_tensor(mb.grad, tb.grad, **tol)


def test_expand_of_zero_size_and_int_tensors():
    # (a size-1 dim expanded to size 0: PyTorch steps 0 there, minigrad reports 1, as it
    # did before this path; left out)
    for shape, to in (((0, 1), (0, 3)), ((2, 1), (2, 0))):
        t = torch.zeros(shape).expand(*to)
        m = minigrad.zeros(shape).expand(*to)
        assert tuple(m.shape) == tuple(t.shape) and m.stride() == t.stride()
    ti, mi = torch.arange(3).reshape(3, 1), minigrad.arange(3).reshape(3, 1)
    assert np.array_equal(mi.expand(3, 4).numpy(), ti.expand(3, 4).numpy())
    assert mi.expand(3, 4).stride() == ti.expand(3, 4).stride()


# ----------------------------------------------------------------------------------------------
# SiLU: slope s + y (1 - s) made in the forward
# ----------------------------------------------------------------------------------------------
EDGES = [-np.inf, -1000.0, -100.0, -88.5, -50.0, -20.0, -1.2784645, -1.5, -0.0, 0.0, 1e-30,
         0.7, 19.9, 50.0, 100.0, np.inf, np.nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_edges_values_and_gradients(dtype):
    x = np.array(EDGES, dtype)
    t, m = _both(x)
    ty, my = torch.nn.functional.silu(t), minigrad.nn.functional.silu(m)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=0)
    g = np.linspace(-2, 2, x.size).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    # (near the slope's zero, -1.278..., both are rounding noise: an absolute bound there)
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (70, 1000), (3, 65537)])     # one block, many, a tail
def test_silu_blocks_values_gradients(dtype, tol, shape):
    x = (np.random.default_rng(6).standard_normal(shape) * 6).astype(dtype)
    t, m = _both(x)
    ty, my = torch.nn.functional.silu(t), minigrad.nn.functional.silu(m)
    same_tensor(my, ty, **tol)
    g = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    same_tensor(m.grad, t.grad, **tol)


def test_silu_without_slope_and_transposed_input():
    x = np.random.default_rng(8).standard_normal((40, 30)).astype(np.float32) * 5
    with minigrad.no_grad():
        got = minigrad.nn.functional.silu(minigrad.tensor(x)).numpy()
    np.testing.assert_allclose(got, torch.nn.functional.silu(torch.tensor(x)).numpy(), **F32)
    t, m = _both(x)
    ty, my = torch.nn.functional.silu(t.t()), minigrad.nn.functional.silu(m.t())
    assert my.stride() == ty.stride()
    same_tensor(my, ty, **F32)
    ty.sum().backward()
    my.sum().backward()
    same_tensor(m.grad, t.grad, **F32)


def test_silu_second_derivative_float64():
    x = np.random.default_rng(9).standard_normal((20, 30)) * 4
    res = []
    for lib in (torch, minigrad):
        v = lib.tensor(x, requires_grad=True)
        g, = lib.autograd.grad(lib.nn.functional.silu(v).sum(), v, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), v)
        res.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(res[1][0], res[0][0], **F64)
    np.testing.assert_allclose(res[1][1], res[0][1], **F64)


# ----------------------------------------------------------------------------------------------
# gather / scatter_add: flat positions made in one pass (index int64 or int32, any dim)
# ----------------------------------------------------------------------------------------------
GATHERS = [((1024, 256), 1, (1024, 64)), ((64, 300), 0, (20, 300)), ((3, 4, 5), 1, (3, 2, 5)),
           ((3, 4, 5), 2, (2, 4, 1)), ((7,), 0, (5,)), ((2, 3), 0, (1, 3)),
           ((2, 1, 3), 1, (2, 1, 3)), ((4, 5), 1, (4, 1)), ((4, 5), 1, (2, 3))]


@pytest.mark.parametrize("shape,dim,index_shape", GATHERS)
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_gather_values_and_gradient(shape, dim, index_shape, dtype, tol, index_dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal(shape).astype(dtype)
    idx = rng.integers(0, shape[dim], index_shape).astype(index_dtype)
    t, m = _both(x)
    ty = torch.gather(t, dim, torch.tensor(idx))
    my = minigrad.gather(m, dim, minigrad.tensor(idx))
    same_tensor(my, ty, **tol)
    g = rng.standard_normal(index_shape).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    same_tensor(m.grad, t.grad, **tol)              # repeated positions summed


@pytest.mark.parametrize("shape,dim,index_shape", GATHERS)
def test_scatter_add_and_its_second_derivative_float64(shape, dim, index_shape):
    rng = np.random.default_rng(11)
    base = rng.standard_normal(shape)
    src = rng.standard_normal(index_shape)
    idx = rng.integers(0, shape[dim], index_shape)
    res = []
    for lib in (torch, minigrad):
        b, s = lib.tensor(base, requires_grad=True), lib.tensor(src, requires_grad=True)
        y = b.scatter_add(dim, lib.tensor(idx), s)
        gb, gs = lib.autograd.grad((y * y).sum(), (b, s), create_graph=True)
        second, = lib.autograd.grad((gs * gs).sum() + gb.sum(), s)
        res.append([v.detach().numpy() for v in (y, gb, gs, second)])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, **F64)


def test_gather_with_every_position_repeated_and_none():
    x = np.arange(12.0).reshape(3, 4)
    for idx in (np.zeros((3, 6), np.int64), np.array([[3, 2, 1, 0]] * 3)):
        t, m = _both(x)
        ty, my = t.gather(1, torch.tensor(idx)), m.gather(1, minigrad.tensor(idx))
        same_tensor(my, ty, **F64)
        ty.sum().backward()
        my.sum().backward()
        same_tensor(m.grad, t.grad, **F64)


# ----------------------------------------------------------------------------------------------
# sigmoid: 1 / (1 + e^-x) with a division where numpy's reciprocal took twice its time
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_bitwise_like_before_and_close_to_torch(dtype):
    x = np.concatenate([np.array(EDGES), np.linspace(-30, 30, 70001)]).astype(dtype)
    t, m = _both(x)
    ty, my = t.sigmoid(), m.sigmoid()
    with np.errstate(over="ignore"):
        ref = (1 / (1 + np.exp(-x))).astype(dtype)       # the kernel's own formula, rounded
    np.testing.assert_array_equal(my.detach().numpy(), ref)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=2e-6, atol=1e-30)
    g = np.linspace(-2, 2, x.size).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    # (g s (1 - s): where s is near 1, 1 - s keeps few digits and an ulp of s between the two
    # libraries' exp shows; an absolute bound there)
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=2e-6,
                               atol=1e-7 if dtype == np.float32 else 1e-15)


def test_sigmoid_transposed_and_second_derivative():
    x = np.random.default_rng(12).standard_normal((30, 20)) * 5
    res = []
    for lib in (torch, minigrad):
        v = lib.tensor(x, requires_grad=True)
        y = v.t().sigmoid()
        g, = lib.autograd.grad(y.sum(), v, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), v)
        res.append((y.stride(), g.detach().numpy(), gg.numpy()))
    assert res[0][0] == res[1][0]
    np.testing.assert_allclose(res[1][1], res[0][1], **F64)
    np.testing.assert_allclose(res[1][2], res[0][2], **F64)


# ----------------------------------------------------------------------------------------------
# factories: plain int sizes read without the per-element checks; every other size as before
# ----------------------------------------------------------------------------------------------
SIZES = [(4, 4), ((2, 3),), ([2, 3],), (torch.Size([2, 3]),), ((),), (0,), (3, 0, 2), (5,),
         (np.int64(2), 3), ((np.int32(2), 3),), (2, True), ((2, False),)]


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("size", SIZES, ids=repr)
def test_factory_sizes_like_torch(name, size):
    msize = tuple(minigrad.Size(s) if isinstance(s, torch.Size) else s for s in size)
    t, m = getattr(torch, name)(*size), getattr(minigrad, name)(*msize)
    assert tuple(m.shape) == tuple(t.shape)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    if name in ("zeros", "ones"):
        np.testing.assert_array_equal(m.numpy(), t.numpy())


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "full"])
@pytest.mark.parametrize("size", [(-1,), (2, -3), (True, 2), (2.0, 3), ((2, 2.5),), (2 ** 63,)],
                         ids=repr)
def test_factory_bad_sizes_refused_like_torch(name, size):
    extra = (1.5,) if name == "full" else ()
    args = (size,) + extra if name == "full" else size + extra
    with pytest.raises(Exception) as theirs:
        getattr(torch, name)(*args)
    with pytest.raises(Exception) as mine:
        getattr(minigrad, name)(*args)
    assert type(mine.value) is type(theirs.value)


@pytest.mark.parametrize("size", [(2, 3), [4], (), (0, 5)])
def test_full_and_dtype_keywords(size):
    t = torch.full(size, 2.5, dtype=torch.float64)
    m = minigrad.full(size, 2.5, dtype=minigrad.float64)
    assert tuple(m.shape) == tuple(t.shape) and m.dtype == minigrad.float64
    np.testing.assert_array_equal(m.numpy(), t.numpy())
    z = minigrad.zeros(size, dtype=minigrad.int32)
    assert z.dtype == minigrad.int32 and tuple(z.shape) == tuple(size)


# ----------------------------------------------------------------------------------------------
# reflect / replicate pad: borders along the last dim up to 8 wide copied column by column
# ----------------------------------------------------------------------------------------------
PADS = [((2, 3, 9), (2, 2)), ((2, 3, 9), (1, 0)), ((2, 3, 9), (0, 3)), ((2, 3, 20), (8, 8)),
        ((2, 3, 20), (9, 3)), ((2, 3, 5, 6), (2, 2, 2, 2)), ((2, 3, 5, 12), (3, 1, 0, 2)),
        ((1, 2, 3, 4, 5), (1, 2, 1, 0, 2, 1)), ((2, 3, 6, 30), (12, 10, 1, 1))]


@pytest.mark.parametrize("shape,pad", PADS)
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_mirror_pads_values_and_gradients(shape, pad, mode, dtype, tol):
    x = np.random.default_rng(13).standard_normal(shape).astype(dtype)
    t, m = _both(x)
    ty = torch.nn.functional.pad(t, pad, mode=mode)
    my = minigrad.nn.functional.pad(m, pad, mode=mode)
    same_tensor(my, ty, **F64 if dtype == np.float64 else dict(rtol=0, atol=0))     # copies: exact
    g = np.random.default_rng(14).standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    same_tensor(m.grad, t.grad, **tol)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_mirror_pad_second_derivative_float64(mode):
    x = np.random.default_rng(15).standard_normal((2, 2, 4, 5))
    res = []
    for lib in (torch, minigrad):
        v = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.pad(v, (2, 1, 1, 2), mode=mode)
        g, = lib.autograd.grad((y ** 3).sum(), v, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), v)
        res.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(res[1][0], res[0][0], **F64)
    np.testing.assert_allclose(res[1][1], res[0][1], **F64)
