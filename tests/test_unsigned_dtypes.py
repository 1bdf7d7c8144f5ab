"""uint16, uint32 and uint64, side by side with PyTorch: its CPU build has few kernels for them
(creation, casts, indexing, ==, *, &, |, ^, sort, unique, sum...), promotes them with nothing
but themselves and floating dtypes, and refuses the rest with "... not implemented for
'UInt16'".  Each program runs on both libraries; values, dtypes, or the exception's type and
words must agree."""
import io
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (torch, minigrad)
UNSIGNED = ["uint16", "uint32", "uint64"]


def _plain(value):
    """A result as comparable data: a tensor as (dtype name, nested list)."""
    if isinstance(value, (torch.Tensor, minigrad.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], value.tolist())
    if isinstance(value, (torch.dtype, minigrad.dtype)):
        return ("dtype", str(value).split(".")[-1])
    if isinstance(value, (tuple, list)):
        return type(value).__name__, [_plain(v) for v in value]
    if isinstance(value, str):
        return value.replace("minigrad", "torch")
    return value


def _outcome(program, lib):
    try:
        return "value", _plain(program(lib))
    except Exception as exc:        # noqa: BLE001  (the exception is what is compared)
        return "raise", type(exc), str(exc).splitlines()[0]


def same(program):
    """``program(lib)`` gives the same value on both, or raises the same exception type with
    PyTorch's words (minigrad may add a detail after them)."""
    theirs, mine = (_outcome(program, lib) for lib in LIBS)
    assert theirs[0] == mine[0], (theirs, mine)
    if theirs[0] == "value":
        assert theirs[1] == mine[1], (theirs, mine)
    else:
        assert mine[1] is theirs[1] and mine[2].startswith(theirs[2]), (theirs, mine)


def _x(L, d, values=(1, 2, 3)):
    return L.tensor(list(values), dtype=getattr(L, d))


# ----------------------------------------------------------------------------------------------
# the dtypes themselves
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("expr", [
    "D.is_signed", "D.itemsize", "D.is_floating_point", "D.is_complex", "str(D)", "repr(D)",
    "D.to_real()", "D.to_complex()", "L.iinfo(D).bits", "L.iinfo(D).max", "L.iinfo(D).min",
    "L.iinfo(D).dtype", "repr(L.iinfo(D))", "D == L.uint8", "hash(D) == hash(getattr(L, D_NAME))",
    "L.finfo(D)",
])
def test_dtype_attributes(d, expr):
    same(lambda L: eval(expr, {"L": L, "D": getattr(L, d), "D_NAME": d}))


@pytest.mark.parametrize("d", UNSIGNED)
def test_from_numpy_shares_memory_and_numpy_gives_the_array_back(d):
    for L in LIBS:
        a = np.array([1, 2, np.iinfo(d).max], dtype=d)
        t = L.from_numpy(a)
        assert str(t.dtype).split(".")[-1] == d
        a[0] = 7
        assert t.tolist() == [7, 2, int(np.iinfo(d).max)]
        back = t.numpy()
        assert back.dtype == np.dtype(d) and np.shares_memory(back, a)
    for convert in ("tensor", "as_tensor", "asarray"):
        same(lambda L: getattr(L, convert)(np.array([3, 0, np.iinfo(d).max], dtype=d)))


# ----------------------------------------------------------------------------------------------
# creation and conversion of numbers
# ----------------------------------------------------------------------------------------------
_CREATION = [
    "L.tensor([1, 2, 3], dtype=D)", "L.tensor(5, dtype=D)", "L.tensor([], dtype=D)",
    "L.tensor([[1], [2]], dtype=D)", "L.tensor([True, False], dtype=D)",
    "L.tensor(2 ** 64 - 1, dtype=D)", "L.tensor([1, 2 ** 63], dtype=D)",
    "L.tensor(2 ** 32, dtype=D)", "L.tensor(2 ** 64, dtype=D)", "L.tensor(-1, dtype=D)",
    "L.tensor([-1, -2], dtype=D)", "L.tensor(-70000, dtype=D)", "L.tensor(-2 ** 63 - 1, dtype=D)",
    "L.tensor(1.5, dtype=D)", "L.tensor([1.5], dtype=D)", "L.tensor(-1.5, dtype=D)",
    "L.tensor(1e30, dtype=D)", "L.tensor([None], dtype=D)",
    "L.tensor(np.int64(3), dtype=D)", "L.tensor(np.float64(3), dtype=D)",
    "L.tensor([np.int64(3)], dtype=D)", "L.tensor([L.tensor(3.)], dtype=D)",
    "L.tensor(np.array([1.5, 2.5]), dtype=D)", "L.tensor(np.array([-1, 7]), dtype=D)",
    "L.tensor([[1], [2, 3]], dtype=D)",
    "L.tensor([np.dtype(D_NAME).type(3)])", "L.tensor(np.dtype(D_NAME).type(3))",
    "L.tensor([np.dtype(D_NAME).type(1), 2])", "L.tensor([np.dtype(D_NAME).type(1), 2.5])",
    "L.tensor([np.dtype(D_NAME).type(1), True])",
    "L.tensor([np.dtype(D_NAME).type(1), np.float16(2)])",
    "L.tensor([L.tensor(1, dtype=D), L.tensor(2)])",
    "L.tensor([L.tensor(1, dtype=D), L.tensor(2, dtype=D)])",
    "L.tensor([L.tensor(3, dtype=D)], dtype=L.int64)", "L.tensor([np.array([1, 2], D_NAME)])",
    "L.as_tensor([1, 2], dtype=D)", "L.scalar_tensor(3, dtype=D)",
    "L.zeros(2, dtype=D)", "L.ones(2, 2, dtype=D)", "tuple(L.empty(2, dtype=D).shape)",
    "L.full((2,), 7, dtype=D)", "L.full((2,), -1, dtype=D)", "L.full((2,), 2 ** 40, dtype=D)",
    "L.full((2,), 2 ** 64 - 1, dtype=D)", "L.full((2,), -2 ** 63, dtype=D)",
    "L.full((2,), 1.5, dtype=D)", "L.full((1,), -1.5, dtype=D)", "L.full((1,), 1e30, dtype=D)",
    "L.zeros_like(X)", "L.ones_like(X)", "L.full_like(X, 2)", "L.empty_like(X).dtype",
    "X.new_zeros(2)", "X.new_ones(1)", "X.new_full((2,), 3)", "X.new_tensor([1, 2])",
    "X.fill_(-1)", "X.fill_(2 ** 40)", "X.fill_(1.5)",
    "L.randint(0, 5, (0,), dtype=D)", "L.randint(0, 5, (3,), dtype=D).dtype",
    "L.randint(-1, 5, (3,), dtype=D)", "L.randint(0, 2 ** 40, (3,), dtype=D).dtype",
    "L.randint(0, 70000, (3,), dtype=D).dtype", "L.randint_like(X, 5).dtype",
    "L.linspace(0, 2, 1, dtype=D)", "L.linspace(0, 2, 0, dtype=D)",
    "L.logspace(0, 2, 1, dtype=D)",
]


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("expr", _CREATION)
def test_creation(d, expr, request):
    same(lambda L: eval(expr, {"L": L, "np": np, "D": getattr(L, d), "D_NAME": d,
                               "X": _x(L, d)}))


@pytest.mark.parametrize("src", ["int8", "int64", "uint8", "float16", "float32", "float64",
                                 "bool", "uint16", "uint32", "uint64"])
@pytest.mark.parametrize("d", UNSIGNED)
def test_casts_to_and_from(src, d):
    # (-2.5 as an unsigned type wraps through the integer it truncates to, as PyTorch's x86 C)
    values = {"bool": [True, False], "uint8": [0, 200, 255]}.get(
        src, [0, 1, 7, 65535, 70000] if src[0] == "u" or src[0] == "i" and src != "int8"
        else [0, 1, 100] if src == "int8" else [0.0, 1.5, 300.7, -2.5])

    def program(L):
        x = L.tensor(values).to(getattr(L, src))
        there = x.to(getattr(L, d))
        return there, there.to(getattr(L, src)), x.type(getattr(L, d))
    same(program)


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("to", ["bool", "int64", "float16", "bfloat16", "float64", "complex64",
                                "uint8"])
def test_casts_of_the_extremes(d, to):
    same(lambda L: _x(L, d, [0, 1, 2 ** 15, int(np.iinfo(d).max)]).to(getattr(L, to)).tolist()
         if to != "bfloat16" else _x(L, d, [0, 1, 2 ** 15]).to(L.bfloat16).float())


@pytest.mark.parametrize("convert", ["int", "bool", "index"])
def test_uint64_past_int64_as_a_python_int_is_refused(convert):
    def program(L):
        x = L.tensor([2 ** 63, 5], dtype=L.uint64)
        f = {"int": int, "bool": bool, "index": lambda t: t.__index__()}[convert]
        return f(x[1]), f(x[0])
    same(program)


def test_uint64_values_past_int64_keep_their_value():
    def program(L):
        x = L.tensor([2 ** 64 - 1, 0, 2 ** 63, 5], dtype=L.uint64)
        return (x, x.tolist(), x[0].item(), int(x[3]), float(x[0]), x.sort(),
                x.sort(descending=True), x.argsort(), x.unique(), x.double(), x.to(L.int64),
                str(x), x == 2 ** 63, x == -1, x & 2 ** 63, x | -1, x * 2)
    same(program)


# ----------------------------------------------------------------------------------------------
# type promotion
# ----------------------------------------------------------------------------------------------
_ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
        "float64", "complex64", "complex128"] + UNSIGNED


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("other", _ALL)
def test_promote_types(d, other):
    same(lambda L: L.promote_types(getattr(L, d), getattr(L, other)))
    same(lambda L: L.promote_types(getattr(L, other), getattr(L, d)))
    same(lambda L: L.can_cast(getattr(L, d), getattr(L, other)))
    same(lambda L: L.can_cast(getattr(L, other), getattr(L, d)))


def _operand(L, kind, dtype):
    if kind == "dim":
        return L.tensor([1, 1]).to(getattr(L, dtype))
    if kind == "zero":
        return L.tensor(1).to(getattr(L, dtype))
    return {"bool": True, "int": 2, "big": 2 ** 63, "float": 2.5, "complex": 1j}[dtype]


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("mine", ["dim", "zero"])
@pytest.mark.parametrize("other", [(k, t) for k in ("dim", "zero") for t in _ALL] +
                         [("number", n) for n in ("bool", "int", "big", "float", "complex")])
def test_result_type(d, mine, other):
    same(lambda L: L.result_type(_operand(L, mine, d), _operand(L, *other)))
    same(lambda L: L.result_type(_operand(L, *other), _operand(L, mine, d))
         if other[0] != "number" else None)


@pytest.mark.parametrize("d", UNSIGNED)
def test_mixed_operands_of_supported_ops(d):
    # mul and the bitwise ops have uint kernels: the promotion decides what they give
    for expr in ["X * L.tensor([2., 3., 4.])", "X * L.tensor(2.5, dtype=L.float64)",
                 "X * L.tensor([1.5], dtype=L.bfloat16)", "X * 1.5", "X * 1j", "X * 2",
                 "X * -1", "X * 70000", "X * L.tensor(True)", "X * L.tensor(3)",
                 "X * L.tensor([3, 3, 3])", "X * L.tensor([3, 3, 3], dtype=L.uint8)",
                 "L.tensor([True, False, True]) * X", "L.tensor(2, dtype=D) * L.tensor([1, 2])",
                 "L.tensor([1, 2], dtype=L.int8) * L.tensor(5, dtype=D)",
                 "L.tensor(5, dtype=D) * L.tensor(2)", "L.tensor(True) * L.tensor(5, dtype=D)",
                 "L.tensor([1.], dtype=L.complex64) * X", "X * L.tensor(1j)",
                 "X == L.tensor([1, 2, 2])", "X == 2", "X != 2.0",
                 "X & 1", "X & True", "X & -1", "1 & X", "X ^ L.tensor(1)", "X | 2 ** 40",
                 "X & L.tensor([1, 1, 1])", "X & L.tensor(1, dtype=L.uint8)", "X & 1.5",
                 "X | 2 ** 64", "L.tensor([True]) | 2 ** 63"]:
        same(lambda L: eval(expr, {"L": L, "D": getattr(L, d), "X": _x(L, d)}))


# ----------------------------------------------------------------------------------------------
# what PyTorch computes with them
# ----------------------------------------------------------------------------------------------
_SUPPORTED = [
    "X * Y", "X.mul(2)", "X.clone().mul_(Y)", "X / Y", "X.true_divide(Y)", "X.sqrt()",
    "X.float()", "X == Y", "X != Y", "X.eq(Y)", "L.equal(X, Y)", "X.isnan()", "X.isfinite()",
    "X.nan_to_num()", "X.any()", "X.all()", "X.sum()", "X.sum(0)", "X.nansum()",
    "X.sum(dtype=L.int32)", "X.prod()", "X.prod(dtype=L.float64)", "X.cumsum(0)",
    "X.cumprod(0)", "X.cumsum(0, dtype=L.float32)", "L.cumsum(L.tensor(3, dtype=D), 0)",
    "L.tensor(3, dtype=D).cumsum(0, dtype=D)", "L.zeros(0, dtype=D).cumsum(0)",
    "X & Y", "X | Y", "X ^ Y", "X.bitwise_and(Y)", "L.bitwise_or(X, 2)",
    "X.clone().bitwise_xor_(Y)", "X.clone().__iand__(Y)",
    "X.sort()", "X.sort(descending=True)", "X.sort(stable=True)", "L.sort(M, dim=0)",
    "L.sort(M, dim=1, descending=True)", "X.argsort()", "X.argsort(descending=True)",
    "X.msort()", "L.sort(L.tensor(3, dtype=D))", "L.sort(L.zeros(0, dtype=D))",
    "L.argsort(L.tensor(3, dtype=D))", "L.topk(L.tensor(3, dtype=D), 1)",
    "X.unique()", "X.unique(return_counts=True)", "L.unique_consecutive(X)",
    "X[1]", "X[[0, 2]]", "X[1:]", "M[:, 1]", "M.t()", "M.T", "X.reshape(3, 1)",
    "X.view(-1)", "X.expand(2, 3)", "X.repeat(2)", "X.contiguous()", "X.flatten()",
    "X.unsqueeze(0)", "M.squeeze()", "M.permute(1, 0)", "X.roll(1)", "X.tolist()",
    "X[0].item()", "len(X)", "L.cat([X, Y])", "L.stack([X, Y])", "X.clone()", "X.detach()",
    "X.element_size()", "X.nbytes", "X.itemsize", "X.is_signed()", "X.is_floating_point()",
    "X.type()", "X.view(L.uint8)", "L.tensor([1, 2]).view(D)",
    "str(X)", "str(L.tensor(5, dtype=D))", "str(L.zeros(0, dtype=D))", "str(M)",
    "str(L.tensor([[1, 2 ** 15], [3, 4]], dtype=D))", "str(L.tensor(list(range(2000))).to(D))",
    "X.topk(5)", "X.sort(dim=1)", "L.where(X == Y, X, Y)", "L.where(X == Y, X, 0.5)",
    "X.clone().copy_(Y)", "L.zeros(3).copy_(X)", "X.clone().zero_()", "X.std()", "X.norm()",
    "L.cat([X, Y.long()])", "L.cat([X, Y.float()])", "X.view(L.float32) if D.itemsize == 4 else 0",
    "X.clone().__setitem__(0, 5)", "X.clone().__setitem__(slice(0, 2), Y[:2])",
    "L.unique(X, return_inverse=True)", "X.chunk(2)", "X.narrow(0, 1, 1)", "X.diag()",
    "X.tril()", "X.unfold(0, 2, 1)", "X.repeat_interleave(2)", "L.broadcast_to(X, (2, 3))",
    "L.meshgrid(X, Y, indexing='ij')", "X.type_as(L.zeros(1))", "L.zeros(1).type_as(X)",
    "X < 1.5", "X.lt(L.tensor(1.))", "X.clamp(1.5, 2.5)", "X.pow(2.5)", "X ** 0.5",
    "L.pow(2.5, X)", "X.remainder(1.5)", "L.maximum(X, L.tensor([1.]))", "X.where(X == X, 1)",
    "X.sum(dtype=L.uint8)", "X[L.tensor([True, False, True])]", "L.outer(X, Y)",
    "L.kron(X, Y)", "X.clone().random_(0, 5).dtype", "X.clone().__setitem__(Ellipsis, 5)",
    "X.clone().__setitem__(slice(None, None, 2), Y[:2])", "X.logical_and(L.tensor([1., 2, 3]))",
    # (an operand that promotes to a float: computed there)
    "X.count_nonzero(0)", "X.logical_and(L.tensor(1.))", "L.maximum(X, L.tensor(1.))", "X + 1.5",
    "X - L.tensor([1.])", "X // 2.5", "X.fmod(1.5)", "X.add(Y.double())", "-X.float()",
    "X.max(L.tensor([2.]))", "X.float().gather(0, L.tensor([0]))", "X.double().abs()",
    "X >= 1.5", "X.float() @ Y.float()", "X.sum(dtype=L.float64)", "X.prod(dtype=L.int64)",
    "L.tensor([1, 2]).sum(dtype=L.uint8)", "X.clone().copysign(Y)",
]


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("expr", _SUPPORTED)
def test_what_pytorch_computes(d, expr):
    def program(L):
        env = {"L": L, "D": getattr(L, d), "X": _x(L, d), "Y": _x(L, d, (3, 2, 1)),
               "M": _x(L, d, (5, 0, 2, 7, 1, 1)).reshape(2, 3)}
        return eval(expr, env)
    same(program)


# ----------------------------------------------------------------------------------------------
# what PyTorch refuses (no kernel for these dtypes)
# ----------------------------------------------------------------------------------------------
# refused by minigrad's modules of creation, bitwise ops and sorting
_REFUSED = [
    "L.arange(5, dtype=D)", "L.arange(0, dtype=D)", "L.linspace(0, 4, 5, dtype=D)",
    "L.logspace(0, 2, 3, dtype=D)", "L.eye(2, dtype=D)", "L.eye(0, dtype=D)",
    "L.randperm(4, dtype=D)", "L.randperm(0, dtype=D)", "L.tril_indices(3, 3, dtype=D)",
    "L.triu_indices(3, 3, dtype=D)", "L.rand(2, dtype=D)", "L.randn(2, dtype=D)",
    "L.rand_like(X)", "L.randn_like(X)",
    "~X", "L.bitwise_not(X)", "X.clone().bitwise_not_()", "X << 1", "X >> 1",
    "X.bitwise_left_shift(1)", "L.bitwise_right_shift(X, Y)", "X.clone().__ilshift__(1)",
    "X.clone().bitwise_right_shift_(Y)",
    "L.topk(X, 2)", "X.topk(0)", "X.topk(1, largest=False)",
    "X.cumsum(0, dtype=D)", "X.cumprod(0, dtype=D)", "L.tensor([1, 2]).cumsum(0, dtype=D)",
    # (refused already by the checks these ops make of floating inputs)
    "X.mean()", "L.lerp(X, Y, 0.5)", "X.clone().uniform_()", "X.clone().normal_()",
]


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("expr", _REFUSED)
def test_what_pytorch_refuses(d, expr):
    def program(L):
        env = {"L": L, "D": getattr(L, d), "X": _x(L, d), "Y": _x(L, d, (3, 2, 1))}
        return eval(expr, env)
    assert _outcome(program, torch)[0] == "raise"
    same(program)


# refused where minigrad has the dtype in hand: the promoted dtype of a binary op, the input
# of a reduction, sort-like or indexing op (a table from the op to PyTorch's kernel name, looked
# at only for these three dtypes), in that kernel's words
_REFUSED_BY_KERNEL = [
    "X.clamp(1, 2)", "X.clamp_min(2)", "X.clamp_max(2)", "X.clamp(min=L.tensor(1, dtype=D))",
    "X.clamp(max=L.tensor(1, dtype=D))", "X.clamp(L.tensor(1, dtype=D), L.tensor(2, dtype=D))",
    "X.clone().clamp_min_(1)", "X.clone().clamp_(1, 2)", "X.clone().clamp_max_(2)",
    "X + 1", "X + Y", "X - Y", "X.add(Y)", "X.sub(Y)", "X + True", "-X", "X.neg()", "X // Y",
    "X % Y", "X.remainder(Y)", "X.fmod(Y)", "X.div(Y, rounding_mode='floor')",
    "X.div(Y, rounding_mode='trunc')", "X.abs()", "X.sign()", "X.sgn()", "X.pow(2)", "X ** 2",
    "2 ** X", "X.square()", "L.maximum(X, Y)", "L.minimum(X, Y)", "X < Y", "X >= 1", "X.lt(2)",
    "L.logical_and(X, Y)", "L.logical_or(X, Y)", "L.logical_xor(X, Y)", "X.logical_not()",
    "X.max()", "X.min()", "X.amax()", "X.amin()", "X.argmax()", "X.argmin()", "X.aminmax()",
    "X.max(0)", "X.min(0)", "X.kthvalue(2)", "X.median()", "X.nanmedian()", "X.mode()",
    "X.cummax(0)", "X.cummin(0)", "L.bincount(X)", "X.gather(0, L.tensor([0, 0]))",
    "X.index_select(0, L.tensor([0, 0]))", "X.scatter(0, L.tensor([0]), Y)",
    "X.take(L.tensor([0]))", "X.masked_select(X == Y)", "X.masked_fill(X == Y, 0)", "X.nonzero()",
    "X.count_nonzero()", "L.argwhere(X)", "X.unsqueeze(0).mm(Y.unsqueeze(1))", "X.dot(Y)", "X @ Y",
    "L.gcd(X, Y)", "L.lcm(X, Y)", "L.trace(L.stack([X, Y, X]))", "L.cross(X, Y, dim=0)",
    "X.index_fill(0, L.tensor([0]), 5)", "X.index_add(0, L.tensor([0]), Y[:1])",
    "X.masked_scatter(X == Y, Y)", "X.put(L.tensor([0]), Y[:1])", "X.addcmul(Y, Y)", "L.diff(X)",
    "L.dist(X, Y)", "X.clone().random_()", "X.clone().bernoulli_(0.5)", "X.clone().add_(1)",
    "X.clone().abs_()", "X.sum(dtype=D)", "X.nansum(dtype=D)", "X.prod(dtype=D)",
    "X.index_put((L.tensor([0]),), Y[:1])", "X.clone().__setitem__(L.tensor([0]), 5)",
    "X.clone().__setitem__(X == Y, 0)", "L.take_along_dim(X, L.tensor([0]))", "X.max(Y)", "X < 2",
    "2 > X", "X.unsqueeze(0) @ L.stack([X, Y, X])", "L.stack([X, Y]) @ X", "X @ L.stack([X, Y, X])",
    "L.stack([X, Y]).unsqueeze(0) @ L.stack([X, Y, X]).unsqueeze(0)", "L.mv(L.stack([X, Y]), X)",
    "L.bmm(X.reshape(1, 1, 3), Y.reshape(1, 3, 1))", "L.inner(X, Y)", "X.clone().pow_(2)",
    "X.clone().__setitem__([0, 1], 5)", "X.clone().__setitem__(X == Y, Y[:1])",
    "X.clone().bernoulli_(L.tensor([0.5, 0.5, 0.5]))", "L.sum(X, dtype=D)",
    "X.clone().random_(-1, 5)",
    "X.median(0)", "X.nanmedian(0)", "X.scatter(0, L.tensor([0]), 5)",
    "X.scatter_add(0, L.tensor([0]), Y)", "X.scatter_reduce(0, L.tensor([0]), Y, 'sum')",
    "X.clone().scatter_(0, L.tensor([0]), Y)", "X.clone().masked_fill_(X == Y, 0)",
    "X.clone().index_put_((L.tensor([0]),), Y[:1])", "X.clone().masked_scatter_(X == Y, Y)",
    "X.clone().put_(L.tensor([0]), Y[:1])", "X.clone().index_add_(0, L.tensor([0]), Y[:1])",
    "X.clone().index_fill_(0, L.tensor([0]), 5)", "X.index_copy(0, L.tensor([0]), Y[:1])",
    "X.nonzero(as_tuple=True)", "L.where(X)", "X.argmax(0)", "X.amax(0)", "X.aminmax(dim=0)",
    "X.max(0, keepdim=True)", "X.kthvalue(1, 0)", "X.mode(0)", "X.sum(0, dtype=D)",
    "X.prod(0, dtype=D)", "L.tensor([1., 2]).sum(dtype=D)", "L.tensor([1, 2]).prod(dtype=D)",
    "X.logical_xor(X)", "X < True", "X.lt(L.tensor(2))", "X + L.tensor(2)", "L.fmax(X, Y)",
    "L.fmin(X, Y)", "X.clone().floor_divide_(Y)", "X.clone().remainder_(Y)", "X.clone().neg_()",
    "X.clone().sign_()", "X.clone().logical_not_()",
    "L.isin(X, Y)", "L.searchsorted(X, Y)", "L.bucketize(Y, X)", "X.histc()", "X.flip(0)",
    "reversed(X)", "L.combinations(X)", "X.heaviside(Y)", "X.clone().__iadd__(Y)",
    "X.clone().sub_(Y)",
]


@pytest.mark.parametrize("d", UNSIGNED)
@pytest.mark.parametrize("expr", _REFUSED_BY_KERNEL)
def test_what_pytorch_refuses_by_kernel(d, expr):
    test_what_pytorch_refuses(d, expr)


# random draws: compared by dtype and shape (the libraries' streams differ)
_DRAWS = {"X.clone().random_()", "X.clone().bernoulli_(0.5)",
          "X.clone().bernoulli_(L.tensor([0.5, 0.5, 0.5]))"}


@pytest.mark.parametrize("d, other", [("uint8", "uint8"), ("uint16", "float32"),
                                      ("uint64", "float64"), ("uint32", "int64")])
@pytest.mark.parametrize("expr", _REFUSED_BY_KERNEL)
def test_the_same_ops_with_uint8_or_a_promoting_operand(d, other, expr):
    """uint8 has every kernel, and an operand that promotes uint16/32/64 to a float computes
    (or, beside int64, is refused by the promotion): the refusals above must not reach them.
    (A matrix product of two dtypes names uint16/32/64 in C++: 'short unsigned int'.)"""
    def program(L):
        env = {"L": L, "D": getattr(L, d), "X": _x(L, d),
               "Y": _x(L, d, (3, 2, 1)).to(getattr(L, other))}
        out = eval(expr, env)
        return (out.dtype, tuple(out.shape)) if expr in _DRAWS else out
    same(program)


# ----------------------------------------------------------------------------------------------
# saving and loading
# ----------------------------------------------------------------------------------------------
def _values(d):
    return [0, 1, 2 ** 15, int(np.iinfo(d).max)]


@pytest.mark.parametrize("d", UNSIGNED)
def test_save_load_round_trip(d):
    x = minigrad.tensor(_values(d), dtype=getattr(minigrad, d))
    for obj in ({"x": x, "part": x[1:3].clone()},                 # safetensors
                {"x": x, "part": x[1:3], "kept": {1, 2}}):        # torch's zip pickle
        buffer = io.BytesIO()
        minigrad.save(obj, buffer)
        with warnings.catch_warnings():
            warnings.simplefilter("error")                        # (no widening any more)
            back = minigrad.load(io.BytesIO(buffer.getvalue()), weights_only=False)
        assert back["x"].dtype == getattr(minigrad, d) and back["x"].tolist() == _values(d)
        assert back["part"].dtype == getattr(minigrad, d)
        assert back["part"].tolist() == _values(d)[1:3]


@pytest.mark.parametrize("d", UNSIGNED)
def test_checkpoints_cross_between_the_libraries(d):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    t = torch.tensor(_values(d), dtype=getattr(torch, d))
    m = minigrad.tensor(_values(d), dtype=getattr(minigrad, d))
    # torch.save -> minigrad.load, a view of a storage included
    buffer = io.BytesIO()
    torch.save({"x": t, "view": t[1:]}, buffer)
    back = minigrad.load(io.BytesIO(buffer.getvalue()))
    assert back["x"].dtype == getattr(minigrad, d) and back["x"].tolist() == _values(d)
    assert back["view"].tolist() == _values(d)[1:] and back["view"].storage_offset() == 1
    # minigrad.save (zip, a Parameter and a view sharing the storage) -> torch.load
    buffer = io.BytesIO()
    minigrad.save({"x": m, "view": m[1:],
                   "p": minigrad.nn.Parameter(m.clone(), requires_grad=False)}, buffer)
    got = torch.load(io.BytesIO(buffer.getvalue()))
    assert got["x"].dtype == getattr(torch, d) and got["x"].tolist() == _values(d)
    assert got["view"].storage_offset() == 1 and got["view"].tolist() == _values(d)[1:]
    assert got["view"].untyped_storage().data_ptr() == got["x"].untyped_storage().data_ptr()
    assert isinstance(got["p"], torch.nn.Parameter) and got["p"].dtype == getattr(torch, d)
    # safetensors, both ways
    back = minigrad.load(io.BytesIO(safetensors_torch.save({"x": t})))
    assert back["x"].dtype == getattr(minigrad, d) and back["x"].tolist() == _values(d)
    buffer = io.BytesIO()
    minigrad.save({"x": m}, buffer)
    got = safetensors_torch.load(buffer.getvalue())
    assert got["x"].dtype == getattr(torch, d) and got["x"].tolist() == _values(d)
