"""Regression tests for the differential fuzzer's fourth round of finds, part B (bit operators,
views and layouts, dtype checks of matmul/linear/einsum): each case runs the same call on
minigrad and on PyTorch and wants the same result (value, dtype, shape, view or copy) or the
same exception type."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402


DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32"]


def _t(lib, values, dtype):
    return lib.tensor(values, dtype=getattr(lib, dtype))


# ---- bitwise ops: bits of integers, not the logical ops; floats refused ---------------------
BINARY = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
          "bitwise_right_shift"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("da", DTYPES)
@pytest.mark.parametrize("db", DTYPES)
def test_bitwise_binary_dtypes(name, da, db):
    agree(lambda L: getattr(L, name)(_t(L, [1, 0, 5, 3], da), _t(L, [[3], [1]], db)))
    agree(lambda L: getattr(L, name)(_t(L, [1, 0, 5, 3], da), _t(L, 2, db)))


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("scalar", [3, -1, 300, True, 2.5, 70])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_python_scalars(name, scalar, dtype):
    agree(lambda L: getattr(L, name)(_t(L, [1, 0, 200, 3], dtype), scalar))
    agree(lambda L: getattr(L, name)(scalar, _t(L, [1, 0, 7, 3], dtype)))


def test_bitwise_int_too_big_and_bad_operands():
    agree(lambda L: L.bitwise_or(_t(L, [1], "int64"), 2 ** 70))
    agree(lambda L: L.bitwise_or(3, 4))
    agree(lambda L: L.bitwise_or(_t(L, [1], "int64"), "a"))
    agree(lambda L: L.bitwise_not(3))
    agree(lambda L: L.bitwise_and(_t(L, [1, 2, 3], "int64"), _t(L, [1, 2], "int64")))


def test_shifts_by_negative_or_wide_amounts():
    x = [1, -3, 7, -128, 100]
    for dtype in ("int8", "uint8", "int32", "int64"):
        for amount in ([-1, 0, 7, 8, 70], [64, 63, 31, 32, 9]):
            agree(lambda L: L.bitwise_left_shift(_t(L, x, "int64").to(getattr(L, dtype)),
                                                 _t(L, amount, dtype)))
            agree(lambda L: L.bitwise_right_shift(_t(L, x, "int64").to(getattr(L, dtype)),
                                                  _t(L, amount, dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_not_and_invert(dtype):
    agree(lambda L: L.bitwise_not(_t(L, [1, 0, 5], dtype)))
    agree(lambda L: ~_t(L, [1, 0, 5], dtype))
    agree(lambda L: _t(L, [1, 0, 5], dtype).bitwise_not_())


def test_operators_are_the_bitwise_ops():
    # int | int was a bool (the logical op) before: a silent wrong answer
    mine, _ = agree(lambda L: _t(L, [1, 2, -3], "int64") | 4)
    assert mine.tolist() == [5, 6, -3]
    for op in ("__and__", "__or__", "__xor__", "__lshift__", "__rshift__", "__rand__",
               "__ror__", "__rxor__", "__rlshift__", "__rrshift__"):
        for other in (3, True, 2.5):
            agree(lambda L: getattr(_t(L, [1, 2, -3], "int64"), op)(other))
            agree(lambda L: getattr(_t(L, [True, False], "bool"), op)(other))
            agree(lambda L: getattr(_t(L, [1.0, 2.0], "float32"), op)(other))
    agree(lambda L: 1 << _t(L, [1, 2, -3], "int64"))
    agree(lambda L: 100 >> _t(L, [1, 2, 3], "uint8"))
    agree(lambda L: 6 ^ _t(L, [1, 2, 3], "int32"))


def test_operator_with_other_types_raises_typeerror():
    agree(lambda L: _t(L, [1], "int64") & "a")
    agree(lambda L: _t(L, [1], "int64") << [1])


@pytest.mark.parametrize("op", ["__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"])
@pytest.mark.parametrize("target", ["bool", "uint8", "int64", "float32"])
@pytest.mark.parametrize("other", ["bool", "int64", "float32"])
def test_inplace_operators(op, target, other):
    def run(L):
        x = _t(L, [1, 0, 200], target)
        view = x[:]
        out = getattr(x, op)(_t(L, [1, 1, 3], other))
        assert out is x
        return x, view       # the write is seen through a view
    agree(run)


def test_inplace_methods_broadcast_and_scalars():
    def run(L):
        x = _t(L, [[1, 2], [3, 4]], "int32")
        x.bitwise_or_(8).bitwise_left_shift_(_t(L, [1, 2], "int32")).bitwise_xor_(True)
        return x
    agree(run)
    agree(lambda L: _t(L, [1, 2], "int64").bitwise_and_(_t(L, [[1, 2], [3, 4]], "int64")))
    agree(lambda L: _t(L, [1, 2], "int64").bitwise_and_(2.0))
    agree(lambda L: _t(L, [True], "bool").bitwise_or_(1))


def test_bitwise_out_and_keywords():
    def run(L):
        out = L.empty(3, dtype=L.int64)
        L.bitwise_xor(_t(L, [1, 2, 3], "int64"), other=5, out=out)
        return out
    agree(run)


# ---- views and copies: diagonal, unfold, pad, view's strides, chunk of an empty tensor --------
def _shares(lib, out, x):
    if out.numel() == 0:
        return False
    if lib is torch:
        return out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    return bool(np.may_share_memory(out._array, x._array))


def agree_layout(fn, strides=True):
    """fn(lib) -> (out, x): same values, same strides (when ``strides``), and out a view of x
    in both or in neither."""
    mine, theirs = agree(lambda L: fn(L)[0])
    if mine is None:
        return
    (m, mx), (t, tx) = fn(minigrad), fn(torch)
    assert _shares(minigrad, m, mx) == _shares(torch, t, tx)
    if t.numel() and strides:
        assert tuple(m.stride()) == tuple(t.stride()), (m.stride(), t.stride())


def _x(L):
    return L.arange(24.).reshape(2, 3, 4)


@pytest.mark.parametrize("args", [(), (1,), (-1,), (5,), (0, 1, 2), (1, 2, 0), (-2, 0, -1),
                                  (0, 0, 0)])
def test_diagonal_is_a_view(args):
    agree_layout(lambda L: ((x := _x(L)).diagonal(*args), x))
    agree_layout(lambda L: ((x := _x(L).transpose(0, 2)).diagonal(*args), x))
    agree_layout(lambda L: ((x := _x(L)[0]).diagonal(*args[:1]), x))


def test_diagonal_gradients_and_writes():
    def grads(L):
        x = L.tensor(np.arange(24.).reshape(2, 3, 4) / 7, requires_grad=True)
        g, = L.autograd.grad((x.diagonal(1, 1, 2) ** 3).sum(), x, create_graph=True)
        gg, = L.autograd.grad((g ** 2).sum(), x)
        return g, gg
    agree(grads)

    def write(L):
        x = L.tensor(np.arange(12.).reshape(3, 4), requires_grad=True)
        w = x * 1
        w.diagonal(1).mul_(3)               # a write through the view changes w
        g, = L.autograd.grad((w * w).sum(), x)
        return w, g
    agree(write)


@pytest.mark.parametrize("args", [(2, 2, 1), (2, 2, 2), (1, 3, 1), (0, 2, 2), (-1, 4, 3),
                                  (2, 0, 1)])
def test_tensor_unfold_is_a_view(args):
    agree_layout(lambda L: ((x := _x(L)).unfold(*args), x))
    agree_layout(lambda L: ((x := _x(L).transpose(0, 2)).unfold(*args), x))

    def grads(L):
        x = L.tensor(np.arange(24.).reshape(2, 3, 4) / 7, requires_grad=True)
        u = x.unfold(*args)
        g, = L.autograd.grad((u ** 3 * L.arange(float(u.shape[-1]))).sum(), x,
                             create_graph=True)
        gg, = L.autograd.grad((g ** 2).sum(), x)
        return g, gg
    agree(grads)


def test_tensor_unfold_of_0d():
    agree_layout(lambda L: ((x := L.tensor(3.0)).unfold(0, 1, 1), x))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(0, 0), (0, 0, 0, 0), (1, 0), (-1, 0), (-1, 1)])
def test_pad_returns_a_copy(mode, pad):
    # (the layout of a non-empty padding is not compared: PyTorch's depends on the mode)
    agree_layout(lambda L: (L.nn.functional.pad(x := _x(L), pad, mode=mode), x),
                 strides=not any(pad))
    agree_layout(lambda L: (L.nn.functional.pad(x := _x(L).transpose(0, 2), pad, mode=mode), x),
                 strides=not any(pad))


def test_view_strides_follow_pytorch():
    cases = [lambda L: (_x(L)[:, :1], (2, 4)), lambda L: (_x(L)[:, :, :1], (6, 1, 1)),
             lambda L: (_x(L).transpose(0, 2), (2, 2, 3, 2)),
             lambda L: (_x(L)[:, 1:, ::2], (2, 4)), lambda L: (_x(L)[:, :, :2], (6, 2)),
             lambda L: (_x(L)[:, :, :2], (2, 6)), lambda L: (_x(L).transpose(0, 2), (4, 6)),
             lambda L: (L.ones(3, 1).expand(3, 4), (12,)),
             lambda L: (L.ones(3, 1).expand(3, 4), (3, 2, 2)),
             lambda L: (L.tensor(3.0), (1, 1)), lambda L: (_x(L)[:1, :1, :1], (1,)),
             lambda L: (L.ones(0, 3).t(), (0,)), lambda L: (L.ones(0, 3).t(), (3, 0))]
    for case in cases:
        agree_layout(lambda L: ((r := case(L))[0].view(r[1]), r[0]))


@pytest.mark.parametrize("shape,chunks,dim", [((0,), 3, 0), ((0, 2), 2, 0), ((2, 0), 5, 1),
                                              ((5,), 4, 0), ((5,), 0, 0)])
def test_chunk_counts(shape, chunks, dim):
    agree(lambda L: L.ones(*shape).chunk(chunks, dim))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tril_triu_keep_the_dtype(dtype):
    agree(lambda L: _t(L, [[1, 1, 1], [1, 0, 1]], dtype).tril())
    agree(lambda L: L.triu(_t(L, [[1, 1, 1], [1, 0, 1]], dtype), 1))
    agree(lambda L: _t(L, [[1, 1], [1, 1]], dtype).triu_(-1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sign_dtypes(dtype):
    agree(lambda L: L.sign(_t(L, [1, 0, 3], dtype)))


# ---- add_/sub_: alpha checked and applied as add/sub do -----------------------------------
@pytest.mark.parametrize("op", ["add_", "sub_"])
@pytest.mark.parametrize("target", ["bool", "uint8", "int64", "float16", "float32"])
@pytest.mark.parametrize("alpha", [2, 2.5, True, -1, 100000, 1e40])
def test_inplace_add_sub_alpha(op, target, alpha):
    for other in (lambda L: L.tensor([1.5, 2.0]), lambda L: L.tensor([1, 2]),
                  lambda L: L.tensor([True, False]), lambda L: 2, lambda L: 2.5,
                  lambda L: L.tensor([70000.0, 2.0])):
        agree(lambda L: getattr(_t(L, [3, 1], target), op)(other(L), alpha=alpha))


def test_inplace_add_alpha_gradient():
    def run(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1
        y.add_(x * x, alpha=3).sub_(x, alpha=0.5)
        return y, L.autograd.grad(y.sum(), x)[0]
    agree(run)


# ---- einsum: PyTorch's dtypes (bmm wants one dtype and no bool; a broadcast product
# promotes; a letter summed alone widens integers) -------------------------------------------
EINSUM_DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("equation", ["ij,jk->ik", "ij,j->", "ij,j->j", "j,ij->", "i,j->ij",
                                      "i,i->i", "i,i->", "ij->j", "ii->i", "i,j,k->ijk",
                                      "ij,jk,kl->il", "ii,i->"])
def test_einsum_dtypes(equation):
    sizes = {"i": 2, "j": 3, "k": 2, "l": 2}
    subs = equation.split("->")[0].split(",")
    rng = np.random.RandomState(0)
    arrays = [rng.randint(0, 3, [sizes[c] for c in s]) for s in subs]
    for k in range(12):
        picked = [EINSUM_DTYPES[(k * 3 + 5 * n) % 7] for n in range(len(subs))]
        agree(lambda L: L.einsum(equation, *[L.tensor(a).to(getattr(L, d))
                                             for a, d in zip(arrays, picked)]))


# ---- interpolate of a tensor below 3-d: PyTorch's checks, in its order --------------------
@pytest.mark.parametrize("shape", [(), (4,), (1, 4), (1, 1, 4), (1, 1, 4, 4)])
@pytest.mark.parametrize("mode", ["nearest", "linear", "bilinear", "bicubic", "trilinear",
                                  "area", "nearest-exact"])
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=3), dict(size=(3, 3)),
                                dict(scale_factor=(2, 2)), dict(scale_factor=2,
                                                                 align_corners=True)])
def test_interpolate_low_rank_inputs(shape, mode, kw):
    agree(lambda L: L.nn.functional.interpolate(L.ones(shape), mode=mode, **kw))


# ---- sign/floor/ceil/round of a tensor that requires grad: a zero gradient, as PyTorch ------
@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
def test_step_functions_pass_a_zero_gradient(name):
    def run(L):
        x = L.tensor([1.5, -2.0, 0.0, float("nan")], requires_grad=True)
        y = getattr(x, name)()
        assert y.requires_grad
        return y, L.autograd.grad(y.sum(), x)[0]
    agree(run)
    agree(lambda L: L.round(L.tensor([1.25, 2.35], requires_grad=True), decimals=1))


# ---- var_mean/std_mean check the dtype before the dims; flatten of a 0-d tensor its dims ----
@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16", "float32"])
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_dtype_checked_first(dtype, name):
    agree(lambda L: getattr(L, name)(L.ones(3, dtype=getattr(L, dtype))))
    agree(lambda L: getattr(L, name)(L.ones(3, dtype=getattr(L, dtype)), dim=1, keepdim=True))


@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 0), (0, 1), (1, 0), (0, -1), (-2,)])
def test_flatten_of_0d_checks_dims(dims):
    agree(lambda L: L.tensor(2.0).flatten(*dims))


# ---- singular values: no half precision in PyTorch -----------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "int64", "bool"])
def test_svd_based_norms_refuse_half(dtype):
    # a full-rank matrix: the zero singular values of a rank-one one are LAPACK rounding noise
    # (1e-7 in torch's build, 1e-17 in numpy's), not a reference
    x = lambda L: (L.ones(3, 3) + L.eye(3)).to(getattr(L, dtype))  # noqa: E731
    agree(lambda L: L.linalg.svdvals(x(L)))
    for ord in ("fro", "nuc", 2, -2, 1):
        agree(lambda L: L.linalg.matrix_norm(x(L), ord))
        agree(lambda L: L.linalg.matrix_norm(x(L), ord, dtype=L.float64))
    agree(lambda L: L.linalg.norm(x(L), 2))
    agree(lambda L: L.linalg.matrix_norm(x(L), 2, dim=(0, 0)))


# ---- the layout of cat/stack/repeat/tril results: row-major, or the shared channels-last ----
def _strided(L, kind):
    if kind == "transposed":
        return L.arange(24.).reshape(4, 3, 2).transpose(0, 2)
    if kind == "channels_last":
        return L.arange(120.).reshape(2, 3, 4, 5).to(memory_format=L.channels_last)
    return L.arange(120.).reshape(2, 3, 4, 5)


@pytest.mark.parametrize("kinds", [("transposed", "transposed"), ("channels_last",) * 2,
                                   ("channels_last", "plain"), ("plain", "channels_last")])
def test_joined_layouts(kinds):
    def both(L):
        return [_strided(L, k) for k in kinds]
    agree_layout(lambda L: (L.cat(xs := both(L)), xs[0]))
    agree_layout(lambda L: (L.cat(xs := both(L), 1), xs[0]))
    agree_layout(lambda L: (L.stack(xs := both(L)), xs[0]))
    agree_layout(lambda L: ((x := both(L)[0]).repeat(*([1] * x.ndim)), x))
    agree_layout(lambda L: ((x := both(L)[0]).tril(), x))


# ---- narrow and select: views, with PyTorch's checks -------------------------------------
@pytest.mark.parametrize("args", [(0, 1, 2), (1, -1, 1), (0, 4, 0), (0, 3, 0), (0, -4, 1),
                                  (0, 1, 5), (0, 1, -1), (2, 0, 1), (0, 1.0, 2), (-1, 0, 4)])
def test_narrow(args):
    agree_layout(lambda L: ((x := L.arange(12.).reshape(3, 4)).narrow(*args), x))
    agree(lambda L: L.narrow(L.arange(12.).reshape(3, 4), *args))
    agree(lambda L: L.tensor(1.0).narrow(0, 0, 1))
    agree(lambda L: L.arange(12.).reshape(3, 4).narrow(0, L.tensor(1), 2))


@pytest.mark.parametrize("args", [(0, 1), (1, -1), (0, 3), (0, -4), (2, 0), (-1, 2)])
def test_select(args):
    agree_layout(lambda L: ((x := L.arange(12.).reshape(3, 4)).select(*args), x))
    agree(lambda L: L.select(L.arange(12.).reshape(3, 4), *args))
    agree(lambda L: L.tensor(1.0).select(0, 0))


def test_narrow_select_gradients():
    def run(L):
        x = L.arange(12.0).reshape(3, 4).requires_grad_()
        y = (x.narrow(1, 1, 2) ** 2).sum() + (x.select(0, -1) ** 3).sum()
        g, = L.autograd.grad(y, x, create_graph=True)
        return g, L.autograd.grad(g.sum(), x)[0]
    agree(run)


# ---- constant pad crops before it pads; an SVD of a NaN raises PyTorch's RuntimeError --------
@pytest.mark.parametrize("shape,pad", [((1, 3), (-1, 2, 1, -2)), ((2, 3), (0, 0, 1, -2)),
                                       ((2, 3), (0, 0, -3, 1)), ((2, 3), (0, 0, -3, 3)),
                                       ((2, 3), (-4, 5)), ((2, 3), (-3, 0)), ((2, 3), (-2, -2))])
def test_pad_crop_checked_before_padding(shape, pad):
    agree(lambda L: L.nn.functional.pad(L.ones(shape), pad))


def test_svd_of_non_finite():
    x = lambda L, v: L.tensor([[1.0, v], [0.0, 1.0]])  # noqa: E731
    for fn in (lambda L, v: L.linalg.svdvals(x(L, v)),
               lambda L, v: L.linalg.matrix_norm(x(L, v), -2),
               lambda L, v: L.linalg.matrix_norm(x(L, v), "nuc")):
        agree(lambda L: fn(L, float("inf")))                  # NaN singular values
        agree(lambda L: L.linalg.svdvals(L.stack([L.full((3, 3), -np.inf), L.eye(3)])))
        for lib in (minigrad, torch):                         # LinAlgError, a RuntimeError
            with pytest.raises(RuntimeError, match="failed to converge"):
                fn(lib, float("nan"))


# ---- reflect/replicate padding refuses empty non-batch dims; linalg.norm with ord None ------
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((0, 2, 3), (1, 1, 1, 1)), ((0, 2, 3), (1, 1)),
                                       ((2, 0, 3), (1, 1)), ((0, 2, 3, 3), (1, 1, 1, 1)),
                                       ((2, 0, 3, 3), (1, 1, 1, 1)), ((0, 3), (1, 1)),
                                       ((2, 0), (0, 0)), ((0, 2, 3), (-1, 0))])
def test_pad_modes_with_empty_dims(mode, shape, pad):
    agree(lambda L: L.nn.functional.pad(L.ones(shape), pad, mode=mode))


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("dim", [(1, 2), (0, 1), (0, 0), (-1, 0), (0,), 1, None])
@pytest.mark.parametrize("ord", [None, "fro", 2, 1])
def test_linalg_norm_dims(shape, dim, ord):
    agree(lambda L: L.linalg.norm(L.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), ord, dim))


def test_repeat_of_a_0d_tensor_by_nothing_stays_0d():
    """torch.tensor(1.).repeat(()) is 0-d (numpy's tile made it 1-d); its gradient is 1."""
    for lib in (torch, minigrad):
        x = lib.tensor(1.5, requires_grad=True)
        y = x.repeat(())
        y.backward()
        assert tuple(y.shape) == () and float(x.grad) == 1.0


@pytest.mark.parametrize("shape, sizes", [((0, 2), (2, 3)), ((0, 2), (-1, 2)), ((3, 6), (2, -1)),
                                          ((3, 6), (4, -1)), ((3, 6), (-1, -1)),
                                          ((3, 0), (-1, 0)), ((2, 6), (3, 2))])
def test_unflatten_checks_the_axis_not_the_tensor(shape, sizes):
    """unflatten's sizes must multiply up to the axis (an empty tensor took any sizes)."""
    outcome = []
    for lib in (torch, minigrad):
        try:
            outcome.append(tuple(lib.ones(*shape).unflatten(1, sizes).shape))
        except RuntimeError as exc:
            outcome.append(str(exc).split("\n")[0].split(":")[0])
    assert outcome[1] == outcome[0]


def test_integer_index_to_0d_is_a_view():
    """x[1] of a 1-d tensor (and x[1, 1] of a 2-d one) is a 0-d view sharing x's memory, as in
    PyTorch (numpy hands back a scalar copy)."""
    for lib in (torch, minigrad):
        x = lib.arange(6.0).reshape(2, 3)
        a, b = x[1][1], x[1, 1]
        x[1, 1] = 50.0
        assert float(a) == float(b) == 50.0
