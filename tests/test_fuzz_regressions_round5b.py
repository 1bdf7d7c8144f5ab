"""Regression tests for the fifth round of the differential fuzzer and op_db, part B (tile,
nan_to_num, lerp_, trunc's gradient, size-less factories, fold of empty inputs, backward of
bool/uint8 operands, silent casts, causal attention): each case runs the same call on minigrad
and on PyTorch and wants the same result (value, dtype, shape, gradient) or the same exception
type."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402


X = [[1.5, -2.0, 0.25], [3.0, -0.5, 4.0]]
SPECIAL = [1.0, float("nan"), float("inf"), -float("inf"), -2.5]


# ---- tile -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", [(2,), (2, 1), (1, 3, 2), (), (0, 2)])
def test_tile_pads_dims_on_the_left(dims):
    def fn(lib):
        x = lib.tensor(X, requires_grad=True)
        y = lib.tile(x, dims)
        (g,) = lib.autograd.grad((y * lib.arange(y.numel()).reshape(y.shape)).sum(), x)
        return y, g
    agree(fn)


def test_tile_method_and_bad_dims():
    agree(lambda lib: (lib.tensor(X).tile(2, 2), lib.tensor(X).tile([3]),
                       lib.tensor(2.0).tile((2, 3)), lib.tile(lib.tensor(2.0), ())))
    agree(lambda lib: lib.tile(lib.tensor(X), 2), match="tuple of ints")
    agree(lambda lib: lib.tensor(X).tile(2.0), match="tuple of ints")


# ---- nan_to_num -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"nan": 1.5, "posinf": 2.0, "neginf": -3},
                                    {"nan": None, "posinf": 1e300}])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_nan_to_num_values_and_gradient(kwargs, dtype):
    def fn(lib):
        x = lib.tensor(SPECIAL, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.nan_to_num(x, **kwargs)
        # a NaN upstream gradient at a replaced element stays NaN (g * isfinite(x))
        up = lib.tensor([2.0, float("nan"), 3.0, 4.0, 5.0], dtype=getattr(lib, dtype))
        (g,) = lib.autograd.grad(y, x, up)
        return y, g
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agree(fn)


def test_nan_to_num_integers_methods_and_bad_values():
    agree(lambda lib: lib.nan_to_num(lib.tensor([1, -2]), nan=1.5))
    agree(lambda lib: lib.nan_to_num(lib.tensor([True, False])))
    agree(lambda lib: lib.tensor(SPECIAL).nan_to_num(posinf=9.0))

    def inplace(lib):
        x = lib.tensor(SPECIAL)
        return x, x.nan_to_num_(nan=7.0)
    agree(inplace)
    agree(lambda lib: lib.nan_to_num(lib.tensor(SPECIAL), posinf="a"), match="'posinf'")
    agree(lambda lib: lib.nan_to_num(lib.tensor(SPECIAL), nan=1j), match="'nan'")


# ---- lerp_ and trunc ------------------------------------------------------------------------
def test_lerp_in_place():
    def fn(lib):
        a = lib.tensor(X, requires_grad=True)
        b = a * 1.0
        b.lerp_(lib.tensor([1.0, 2.0, 3.0]), lib.tensor(0.75))
        (g,) = lib.autograd.grad(b.sum(), a)
        return b, g
    agree(fn)
    agree(lambda lib: lib.zeros(3).lerp_(lib.ones(4, 3), 0.5), match="broadcast shape")


def test_trunc_requires_grad_with_zero_gradient():
    def fn(lib):
        x = lib.tensor(X, requires_grad=True)
        y = lib.trunc(x)
        (g,) = lib.autograd.grad(y, x, lib.full((2, 3), float("nan")))
        return y, g, lib.fix(x).detach()
    agree(fn)


# ---- factories without a size ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["ones", "zeros", "empty", "rand", "randn"])
def test_factories_need_a_size(name):
    agree(lambda lib: getattr(lib, name)(), match=f"{name}()")
    agree(lambda lib: getattr(lib, name)(dtype=lib.float32), match=f"{name}()")
    assert tuple(getattr(minigrad, name)(()).shape) == ()      # an explicit () is 0-d


# ---- F.unfold of 0- to 2-d inputs: PyTorch reads dims 1 and 2 before checking the rank -------
@pytest.mark.parametrize("shape", [(), (3,), (0,), (2, 3), (2, 0), (0, 2), (0, 0), (1, 2, 3, 4, 5)])
def test_unfold_of_low_rank_inputs(shape):
    agree(lambda lib: lib.nn.functional.unfold(lib.zeros(shape), 1))


# ---- backward of integer and bool operands, computed in their own dtype as PyTorch ----------
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int64"])
@pytest.mark.parametrize("int_first", [True, False])
def test_atan2_gradient_with_an_integer_operand(dtype, int_first):
    def fn(lib):
        x = lib.tensor([0.5, 2.0, -1.5], requires_grad=True)
        k = lib.tensor([20, 1, 3], dtype=getattr(lib, dtype))    # 20 * 20 wraps in 8 bits
        out = lib.atan2(k, x) if int_first else lib.atan2(x, k)
        (g,) = lib.autograd.grad(out.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return out, g.detach(), gg
    agree(fn, match="Negation" if dtype == "bool" and int_first else None)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64", "float32"])
@pytest.mark.parametrize("role", ["input", "target", "pos_weight", "weight"])
def test_bce_with_logits_integer_and_bool_arguments(dtype, role):
    def fn(lib):
        args = {"input": lib.tensor([0.5, -1.0, 2.0], requires_grad=True),
                "target": lib.tensor([1.0, 0.0, 0.25]),
                "pos_weight": lib.tensor([2.0, 1.0, 0.5]), "weight": None}
        args[role] = lib.tensor([1, 0, 1], dtype=getattr(lib, dtype))
        out = lib.nn.functional.binary_cross_entropy_with_logits(**args)
        grads = lib.autograd.grad(out, args["input"]) if out.requires_grad else ()
        return (out,) + tuple(grads)
    agree(fn, match="Subtraction" if dtype == "bool" and role in ("target", "pos_weight")
          else None)


def test_bce_with_logits_bool_target_message():
    agree(lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(
        lib.tensor([1.0, 2.0]), lib.tensor([True, False])), match="two bool tensors")


# ---- casts of NaN and out-of-range floats: silent, as PyTorch ------------------------------
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "int8", "bool",
                                   "float16"])
def test_cast_of_nan_and_huge_values_is_silent(dtype):
    values = [float("nan"), 1e20, -1e20, float("inf"), 300.7, -3.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agree(lambda lib: lib.tensor(values).to(getattr(lib, dtype)))
        agree(lambda lib: lib.zeros(6, dtype=getattr(lib, dtype)).copy_(lib.tensor(values)))


# ---- scaled_dot_product_attention: the mask is an added bias; fully masked rows give 0 -------
def _attention_case(lib, L, S, special=None, mask=None, causal=False):
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, L, 3)), rng.standard_normal((2, S, 3)), \
        rng.standard_normal((2, S, 3))
    if special is not None:
        q[0, 0, 0] = special
    q, k, v = (lib.tensor(a, requires_grad=True) for a in (q, k, v))
    m = None if mask is None else lib.tensor(mask)
    out = lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)
    return (out,) + lib.autograd.grad(out.sum(), (q, k, v))


@pytest.mark.parametrize("special", [float("nan"), float("inf")])
def test_causal_attention_nan_gradients_where_torch_puts_them(special):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agree(lambda lib: _attention_case(lib, 3, 3, special=special, causal=True))


@pytest.mark.parametrize("mask", [
    np.array([[True, False, False], [False, False, False], [True, True, True]]),
    np.array([[0.0, -np.inf, 0.5], [-np.inf, -np.inf, -np.inf], [0.0, 0.0, 1.0]])])
def test_attention_fully_masked_row_is_zero(mask):
    agree(lambda lib: _attention_case(lib, 3, 3, mask=mask))


@pytest.mark.parametrize("dtype", ["bool", "int64", "uint8", "float16"])
def test_trunc_dtypes(dtype):
    agree(lambda lib: lib.trunc(lib.tensor([1, 0, 1], dtype=getattr(lib, dtype))),
          match="trunc_vml_cpu" if dtype == "bool" else None)
