"""numpy arrays and scalars with Tensor's operators beside PyTorch (round 16; needs the
_tensor_methods.py, parallel.py, bitwise.py and compare.py changes of that round): an array
operand gives NotImplemented, so numpy computes (in its promotion, a Tensor back by
__array_wrap__) or Python refuses; ``==`` alone takes an array; np.bool_ is read as a float
by the bit operators and np.complex64 as its real part by the comparisons; a dense tensor
beside a number keeps its exact strides."""
import itertools
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (torch, minigrad)
OPS = ["+", "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", "<<", ">>",
       "==", "!=", "<", "<=", ">", ">="]
IOPS = ["+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>="]
ARRAYS = [lambda: np.array(2.0, np.float32), lambda: np.array(3, np.int64),
          lambda: np.ones(3, np.float16) * 2, lambda: np.arange(1, 4, dtype=np.int32),
          lambda: np.array([True, False, True]), lambda: np.ones((3, 3), np.float64)]
DTYPES = ["bool", "uint8", "int64", "float32", "complex64"]


def _outcome(program, L):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = program(L)
        except Exception as exc:  # noqa: BLE001 -- compared across libraries
            return ("raise", type(exc).__name__)
    if isinstance(r, (torch.Tensor, minigrad.Tensor)):
        return ("tensor", str(r.dtype).split(".")[-1], tuple(r.shape), tuple(r.stride()),
                r.detach().numpy())
    return (type(r).__name__, r if isinstance(r, bool) else None)


def same(program):
    theirs, mine = (_outcome(program, L) for L in LIBS)
    assert theirs[:4] == mine[:4], (theirs, mine)
    if theirs[0] == "tensor":
        np.testing.assert_array_equal(mine[4], theirs[4])     # (NaN equal to NaN)


def _t(L, dtype):
    return L.tensor([1, 0, 3], dtype=getattr(L, dtype))


@pytest.mark.parametrize("op, make, dtype, left", [
    (op, make, dtype, left) for op, make, dtype, left in itertools.product(
        OPS, range(len(ARRAYS)), DTYPES, (False, True))])
def test_array_operand_of_an_operator(op, make, dtype, left):
    expr = f"a {op} t" if left else f"t {op} a"
    same(lambda L: eval(expr, {"a": ARRAYS[make](), "t": _t(L, dtype)}))


@pytest.mark.parametrize("op", IOPS)
@pytest.mark.parametrize("make", range(len(ARRAYS)))
def test_array_operand_of_an_inplace_operator(op, make):
    def program(L):
        names = {"t": _t(L, "float32"), "a": ARRAYS[make]()}
        exec(f"t {op} a", {}, names)
        return names["t"]
    same(program)


def test_array_operand_when_the_tensor_requires_grad_is_refused_by_numpy():
    same(lambda L: L.ones(3, requires_grad=True) + np.ones(3))
    same(lambda L: L.ones(3, requires_grad=True) == np.ones(3))


@pytest.mark.parametrize("op", ["&", "|", "^", "<<", ">>", "&=", "|="])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64"])
def test_bit_operators_read_a_numpy_bool_as_a_float(op, dtype):
    def program(L):
        names = {"t": _t(L, dtype), "s": np.bool_(True)}
        if op.endswith("="):
            exec(f"t {op} s", {}, names)
            return names["t"]
        return eval(f"t {op} s", {}, names)
    same(program)


@pytest.mark.parametrize("op", ["==", "!="])
def test_comparisons_read_a_numpy_complex64_as_its_real_part(op):
    same(lambda L: eval(f"t {op} s", {"t": L.tensor([1 + 0j, 1 + 2j]), "s": np.complex64(1 + 2j)}))


@pytest.mark.parametrize("op", [lambda x: x * 2, lambda x: x + 1, lambda x: 1 - x,
                                lambda x: x - x.sum(), lambda x: 2 * x])
def test_a_dense_tensor_beside_a_number_keeps_its_strides(op):
    a = np.random.default_rng(16).standard_normal((3, 1, 4, 2)).astype(np.float32)
    same(lambda L: op(L.tensor(a).permute(2, 0, 3, 1)))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("left", [False, True])
def test_named_ops_refuse_a_numpy_array_in_torchs_words(name, left):
    words = []
    for L in LIBS:
        t, a = L.ones(3), np.ones(3, np.float32)
        with pytest.raises(TypeError) as info:
            getattr(L, name)(a, t) if left else getattr(L, name)(t, a)
        words.append(str(info.value))
    assert words[0] == words[1]
